// Language spans from token-level language ID, as mobilesdk.text.spans computes them: WordPiece
// pieces of one word share a language, `other` words (punctuation, emoji, numbers) join the
// language before them, runs of one language merge into spans with character offsets.
// Offsets count Unicode code points, as Python's str does (and the tokenizer's offsets).
package mobilesdk

import kotlin.math.exp

class Span(val lang: String, val start: Int, val end: Int, val confidence: Double) {
    /** The span's text, cut from the string it was found in (offsets are code points). */
    fun text(of: String): String {
        val a = of.offsetByCodePoints(0, start)
        return of.substring(a, of.offsetByCodePoints(a, end - start))
    }

    override fun toString(): String = "Span($lang, $start, $end, $confidence)"
}

object Spans {
    const val OTHER = "other"

    /** Probabilities over the last axis of [rows, classes] logits, in double precision. */
    fun softmax(logits: DoubleArray): DoubleArray {
        val top = logits.maxOrNull() ?: return logits
        val e = DoubleArray(logits.size) { exp(logits[it] - top) }
        val sum = e.sum()
        return DoubleArray(e.size) { e[it] / sum }
    }

    /** Language spans of `text` from one row's LID scores [tokens][labels] (probabilities or logits)
     *  for tokens with these code-point `offsets` (special tokens have empty offsets and are skipped). */
    fun spans(text: String, offsets: List<IntArray>, lid: List<DoubleArray>, labels: List<String>): List<Span> {
        val cps = text.codePoints().toArray()
        val isProbabilities = lid.all { row -> row.all { it >= 0 } && kotlin.math.abs(row.sum() - 1) <= 1e-3 + 1e-5 }  // numpy.allclose(sum, 1, atol=1e-3)
        val probs = if (isProbabilities) lid else lid.map { softmax(it) }
        class Word(val start: Int, var end: Int, val probs: MutableList<DoubleArray>)
        val words = ArrayList<Word>()
        for ((i, off) in offsets.withIndex()) {
            if (off[1] <= off[0]) continue
            val last = words.lastOrNull()
            if (last != null && joins(cps, last.end, off[0])) {
                last.end = off[1]
                last.probs.add(probs[i])
            } else words.add(Word(off[0], off[1], mutableListOf(probs[i])))
        }
        class Labelled(val start: Int, val end: Int, val lang: String, val confidence: Double)
        val labelled = words.map { w ->
            val mean = DoubleArray(labels.size) { k -> w.probs.sumOf { it[k] } / w.probs.size }
            val best = argmax(mean)
            Labelled(w.start, w.end, labels[best], mean[best])
        }
        val firstReal = labelled.firstOrNull { it.lang != OTHER }
            ?: return if (labelled.isEmpty()) emptyList()
            else listOf(Span(OTHER, labelled.first().start, labelled.last().end, labelled.map { it.confidence }.average()))
        class Merged(val lang: String, val start: Int, var end: Int, val confidences: MutableList<Double>)
        val merged = ArrayList<Merged>()
        for (w in labelled) {
            val own = w.lang != OTHER
            val lang = if (own) w.lang else merged.lastOrNull()?.lang ?: firstReal.lang
            val last = merged.lastOrNull()
            if (last != null && last.lang == lang) {
                last.end = w.end
                if (own) last.confidences.add(w.confidence)
            } else merged.add(Merged(lang, w.start, w.end, if (own) mutableListOf(w.confidence) else mutableListOf()))
        }
        return merged.map { Span(it.lang, it.start, it.end, round4(it.confidences.average())) }
    }

    /** The first index of the largest value (numpy's argmax). */
    fun argmax(x: DoubleArray): Int {
        var best = 0
        for (i in 1 until x.size) if (x[i] > x[best]) best = i
        return best
    }

    /** Python's round(x, 4) for the values spans report (round half to even on the decimal). */
    private fun round4(x: Double): Double = if (x.isNaN()) x else java.math.BigDecimal(x).setScale(4, java.math.RoundingMode.HALF_EVEN).toDouble()

    /** The token ending at `leftEnd` and the one starting at `rightStart` are pieces of one word. */
    private fun joins(cps: IntArray, leftEnd: Int, rightStart: Int): Boolean {
        if (leftEnd != rightStart || leftEnd == 0 || rightStart >= cps.size) return false
        val a = cps[leftEnd - 1]
        val b = cps[rightStart]
        return isAlnum(a) && isAlnum(b) && !isCjk(a) && !isCjk(b)
    }

    /** Python's str.isalnum for one code point: a letter (L*) or a number (Nd, Nl, No). */
    fun isAlnum(c: Int): Boolean = Character.isLetter(c) || Character.getType(c).toByte().let {
        it == Character.DECIMAL_DIGIT_NUMBER || it == Character.LETTER_NUMBER || it == Character.OTHER_NUMBER
    }

    private fun isCjk(c: Int): Boolean = c in 0x3400..0x9FFF || c in 0xF900..0xFAFF || c in 0x20000..0x2FA1F
}
