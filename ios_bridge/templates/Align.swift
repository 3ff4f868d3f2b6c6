// CTC forced alignment and greedy decoding, as mobilesdk.speech.align computes them: Viterbi over
// the blank-interleaved trellis (blank, y1, blank, y2, ..., blank); a frame stays in its state,
// moves to the next, or skips a blank between two different ids. Ties go to staying, then stepping.
import Foundation

/// Where frame t sits in the audio: its receptive field covers samples [t * stride, t * stride + receptiveField).
public struct FrameTiming {
    public let stride: Int, receptiveField: Int, sampleRate: Int

    /// The time between frames frame - 1 and frame: midway between their centres.
    public func boundarySeconds(_ frame: Int) -> Double {
        (Double(frame * stride) + Double(receptiveField - stride) / 2) / Double(sampleRate)
    }

    /// How many frames `samples` valid samples give.
    public func frames(_ samples: Int) -> Int { samples < receptiveField ? 0 : (samples - receptiveField) / stride + 1 }
}

/// One target's run of frames on the best CTC path, [startFrame, endFrame), and its mean log-probability.
public struct Segment {
    public let id: Int, label: String, startFrame: Int, endFrame: Int
    public let startSeconds: Double, endSeconds: Double, score: Double
}

public enum Ctc {
    /// Log-probabilities from a head's scores [frames][classes] (idempotent on log-probabilities).
    public static func logSoftmax(_ scores: [[Double]]) -> [[Double]] {
        scores.map { row in
            let top = row.max() ?? 0
            let log = Foundation.log(row.reduce(0) { $0 + exp($1 - top) })
            return row.map { $0 - top - log }
        }
    }

    /// Best-path decoding: the per-frame argmax with repeats merged and blanks dropped.
    public static func greedy(_ logProbs: [[Double]], blank: Int) -> [Int] {
        let best = logProbs.map(Spans.argmax)
        return best.indices.filter { best[$0] != blank && ($0 == 0 || best[$0] != best[$0 - 1]) }.map { best[$0] }
    }

    /// The fewest frames a CTC path for `targets` needs: one per id, plus a blank between repeats.
    public static func minFrames(_ targets: [Int]) -> Int {
        targets.count + zip(targets, targets.dropFirst()).filter { $0 == $1 }.count
    }

    /// Forced alignment of `targets` to one row's valid frames: a Segment per target, in order.
    public static func align(_ logProbs: [[Double]], _ targets: [Int], _ timing: FrameTiming, blank: Int, labels: [String]) throws -> [Segment] {
        let owner = try viterbi(logProbs, targets, blank: blank)
        return targets.enumerated().map { k, t in
            let a = owner.firstIndex(of: k)!, b = owner.lastIndex(of: k)! + 1
            let score = (a..<b).reduce(0.0) { $0 + logProbs[$1][t] } / Double(b - a)
            return Segment(id: t, label: t < labels.count ? labels[t] : String(t), startFrame: a, endFrame: b,
                           startSeconds: timing.boundarySeconds(a), endSeconds: timing.boundarySeconds(b), score: score)
        }
    }

    /// Per frame, the index of its target on the best path (-1 on blank frames).
    public static func viterbi(_ logProbs: [[Double]], _ targets: [Int], blank: Int) throws -> [Int] {
        let classes = logProbs.first?.count ?? 0
        let bad = targets.filter { $0 < 0 || $0 >= classes || $0 == blank }
        if !bad.isEmpty {
            throw MobileSDKError("target ids \(Array(bad.prefix(5))) are the blank (\(blank)) or outside the \(classes) classes of the CTC head. Fix: pass ids of the model's phoneme inventory, without blanks")
        }
        if minFrames(targets) > logProbs.count {
            throw MobileSDKError("\(targets.count) phonemes need at least \(minFrames(targets)) frames, but the audio gives \(logProbs.count). Fix: pass longer audio or fewer phonemes")
        }
        let frames = logProbs.count
        if targets.isEmpty { return Array(repeating: -1, count: frames) }
        let n = 2 * targets.count + 1
        let states = (0..<n).map { $0 % 2 == 1 ? targets[$0 / 2] : blank }
        let skip = (0..<n).map { $0 >= 3 && $0 % 2 == 1 && states[$0] != states[$0 - 2] }
        var score = [Double](repeating: -.infinity, count: n)
        score[0] = logProbs[0][states[0]]
        score[1] = logProbs[0][states[1]]
        var back = [[Int]](repeating: [Int](repeating: 0, count: n), count: frames)
        for t in 1..<max(frames, 1) {
            var next = [Double](repeating: 0, count: n)
            for s in 0..<n {
                var (best, from) = (score[s], s)
                if s >= 1 && score[s - 1] > best { (best, from) = (score[s - 1], s - 1) }
                if skip[s] && score[s - 2] > best { (best, from) = (score[s - 2], s - 2) }
                back[t][s] = from
                next[s] = best + logProbs[t][states[s]]
            }
            score = next
        }
        var end = score[n - 1] >= score[n - 2] ? n - 1 : n - 2
        var owner = [Int](repeating: -1, count: frames)
        for t in stride(from: frames - 1, through: 0, by: -1) {
            owner[t] = end % 2 == 1 ? end / 2 : -1
            end = back[t][end]
        }
        return owner
    }
}
