// Audio of any length through a waveform-to-waveform model whose artifact takes at most `window`
// samples, as mobilesdk.speech.audio.overlap_add does it: chunks overlapping by `overlap` (at most
// half a window), cross-faded with Hann-shaped ramps that sum to one; the last chunk zero-padded.
import Foundation

public enum Chunks {
    public static func overlapAdd(_ audio: [Float], window: Int, overlap: Int, _ model: ([Float]) throws -> [Float]) throws -> [Float] {
        if overlap < 0 || overlap > window / 2 { throw MobileSDKError("overlap \(overlap) must be in [0, window \(window) / 2]") }
        let hop = window - overlap
        let chunks = max(1, (max(0, audio.count - overlap) + hop - 1) / hop)
        var padded = [Float](repeating: 0, count: (chunks - 1) * hop + window)
        padded.replaceSubrange(0..<audio.count, with: audio)
        let fade = (0..<overlap).map { k -> Float in let s = sin(0.5 * Double.pi * (Double(k) + 0.5) / Double(overlap)); return Float(s * s) }
        var out = [Float](repeating: 0, count: padded.count)
        for i in 0..<chunks {
            let piece = try model(Array(padded[i * hop..<i * hop + window]))
            if piece.count != window { throw MobileSDKError("the model gave \(piece.count) samples for a chunk of \(window)") }
            for k in 0..<window {
                var weight: Float = 1
                if i > 0 && k < overlap { weight = fade[k] }
                if i < chunks - 1 && k >= window - overlap { weight = fade[window - 1 - k] }
                out[i * hop + k] += piece[k] * weight
            }
        }
        return Array(out.prefix(audio.count))
    }
}
