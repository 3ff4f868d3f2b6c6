// Audio of any length through a waveform-to-waveform model whose artifact takes at most `window`
// samples, as mobilesdk.speech.audio.overlap_add does it: chunks of `window` samples overlapping by
// `overlap` (at most half a window), cross-faded with Hann-shaped ramps that sum to one; the last
// chunk is zero-padded.
package mobilesdk

import kotlin.math.PI
import kotlin.math.sin

object Chunks {
    fun overlapAdd(audio: FloatArray, window: Int, overlap: Int, model: (FloatArray) -> FloatArray): FloatArray {
        if (overlap < 0 || overlap > window / 2) throw MobileSdkException("overlap $overlap must be in [0, window $window / 2]")
        val hop = window - overlap
        val n = audio.size
        val chunks = maxOf(1, (maxOf(0, n - overlap) + hop - 1) / hop)
        val padded = FloatArray((chunks - 1) * hop + window)
        audio.copyInto(padded)
        val fade = FloatArray(overlap) { val s = sin(0.5 * PI * (it + 0.5) / overlap); (s * s).toFloat() }
        val out = FloatArray(padded.size)
        for (i in 0 until chunks) {
            val piece = model(padded.copyOfRange(i * hop, i * hop + window))
            if (piece.size != window) throw MobileSdkException("the model gave ${piece.size} samples for a chunk of $window")
            for (k in 0 until window) {
                var weight = 1f
                if (i > 0 && k < overlap) weight = fade[k]
                if (i < chunks - 1 && k >= window - overlap) weight = fade[window - 1 - k]
                out[i * hop + k] += piece[k] * weight
            }
        }
        return out.copyOf(n)
    }
}
