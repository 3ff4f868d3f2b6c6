// CTC forced alignment and greedy decoding, as mobilesdk.speech.align computes them: Viterbi over
// the blank-interleaved trellis (blank, y1, blank, y2, ..., blank); a frame stays in its state,
// moves to the next, or skips a blank between two different ids. Ties go to staying, then
// stepping, as numpy's argmax picks the first.
package mobilesdk

import kotlin.math.exp
import kotlin.math.ln

/** Where frame t sits in the audio: its receptive field covers samples [t * stride, t * stride + receptiveField). */
class FrameTiming(val stride: Int, val receptiveField: Int, val sampleRate: Int) {
    /** The time between frames frame - 1 and frame: midway between their centres. */
    fun boundarySeconds(frame: Int): Double = (frame * stride + (receptiveField - stride) / 2.0) / sampleRate

    /** How many frames `samples` valid samples give. */
    fun frames(samples: Int): Int = if (samples < receptiveField) 0 else (samples - receptiveField) / stride + 1
}

/** One target's run of frames on the best CTC path, [startFrame, endFrame), and its mean log-probability. */
class Segment(val id: Int, val label: String, val startFrame: Int, val endFrame: Int,
              val startSeconds: Double, val endSeconds: Double, val score: Double)

/** The targets cannot be aligned to the frames: too many, or an id outside the head. */
class AlignmentException(message: String) : MobileSdkException(message)

object Ctc {
    /** Log-probabilities from a head's scores [frames][classes] (idempotent on log-probabilities). */
    fun logSoftmax(scores: List<DoubleArray>): List<DoubleArray> = scores.map { row ->
        val top = row.maxOrNull() ?: 0.0
        val log = ln(row.sumOf { exp(it - top) })
        DoubleArray(row.size) { row[it] - top - log }
    }

    /** Best-path decoding: the per-frame argmax with repeats merged and blanks dropped. */
    fun greedy(logProbs: List<DoubleArray>, blank: Int): List<Int> {
        val best = logProbs.map { Spans.argmax(it) }
        return best.filterIndexed { i, b -> b != blank && (i == 0 || b != best[i - 1]) }
    }

    /** The fewest frames a CTC path for `targets` needs: one per id, plus a blank between repeats. */
    fun minFrames(targets: List<Int>): Int = targets.size + targets.zipWithNext().count { (a, b) -> a == b }

    /** Each target's frames [start, end) on the best CTC path, in order. */
    fun runs(logProbs: List<DoubleArray>, targets: List<Int>, blank: Int): List<IntArray> {
        val owner = viterbi(logProbs, targets, blank)
        return targets.indices.map { k -> intArrayOf(owner.indexOfFirst { it == k }, owner.indexOfLast { it == k } + 1) }
    }

    /** Forced alignment of `targets` to one row's valid frames: a Segment per target, in order. */
    fun align(logProbs: List<DoubleArray>, targets: List<Int>, timing: FrameTiming, blank: Int, labels: List<String>): List<Segment> =
        targets.zip(runs(logProbs, targets, blank)) { t, (a, b) ->
            val score = (a until b).sumOf { logProbs[it][t] } / (b - a)
            Segment(t, labels.getOrElse(t) { t.toString() }, a, b, timing.boundarySeconds(a), timing.boundarySeconds(b), score)
        }

    /** Per frame, the index of its target on the best path (-1 on blank frames). */
    fun viterbi(logProbs: List<DoubleArray>, targets: List<Int>, blank: Int): IntArray {
        check(logProbs, targets, blank)
        val frames = logProbs.size
        if (targets.isEmpty()) return IntArray(frames) { -1 }
        val n = 2 * targets.size + 1
        val states = IntArray(n) { if (it % 2 == 1) targets[it / 2] else blank }
        val skip = BooleanArray(n) { it >= 3 && it % 2 == 1 && states[it] != states[it - 2] }
        var score = DoubleArray(n) { Double.NEGATIVE_INFINITY }
        score[0] = logProbs[0][states[0]]
        score[1] = logProbs[0][states[1]]
        val back = Array(frames) { IntArray(n) }
        for (t in 1 until frames) {
            val next = DoubleArray(n)
            for (s in 0 until n) {
                var best = score[s]
                var from = s
                if (s >= 1 && score[s - 1] > best) { best = score[s - 1]; from = s - 1 }
                if (skip[s] && score[s - 2] > best) { best = score[s - 2]; from = s - 2 }
                back[t][s] = from
                next[s] = best + logProbs[t][states[s]]
            }
            score = next
        }
        var end = if (score[n - 1] >= score[n - 2]) n - 1 else n - 2
        val owner = IntArray(frames)
        for (t in frames - 1 downTo 0) {
            owner[t] = if (end % 2 == 1) end / 2 else -1
            end = back[t][end]
        }
        return owner
    }

    private fun check(logProbs: List<DoubleArray>, targets: List<Int>, blank: Int) {
        val classes = logProbs.firstOrNull()?.size ?: 0
        val bad = targets.filter { it !in 0 until classes || it == blank }
        if (bad.isNotEmpty()) throw AlignmentException("target ids ${bad.take(5)} are the blank ($blank) or outside the $classes classes " +
            "of the CTC head. Fix: pass ids of the model's phoneme inventory, without blanks")
        if (minFrames(targets) > logProbs.size) throw AlignmentException("${targets.size} phonemes need at least " +
            "${minFrames(targets)} frames, but the audio gives ${logProbs.size}. Fix: pass longer audio or fewer phonemes")
    }
}
