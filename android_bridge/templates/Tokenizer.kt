// The text models' tokenizer, reproducing the bundle's Hugging Face `tokenizers` pipeline exactly
// (ids and character offsets): BERT normalisation, the pre-tokenizer stages the manifest records,
// WordPiece, [CLS] ... [SEP] and truncation. Hand-written: Hugging Face ships no Kotlin tokenizer
// (huggingface/tokenizers#1918). Offsets count Unicode code points, as Python's str does.
package mobilesdk

import java.io.InputStream
import java.text.Normalizer

sealed class PreTokenizer {
    /** BERT's: split on whitespace (dropped) and punctuation (kept, one token each). */
    object Bert : PreTokenizer()
    /** Split on whitespace only. */
    object WhitespaceSplit : PreTokenizer()
    /** `tokenizers`' Split with a regex; `isolated` keeps the matches as pieces, else they are dropped. */
    class Split(pattern: String, val isolated: Boolean) : PreTokenizer() { val regex = Regex(pattern) }
    /** Runs of digits (Unicode N*) split from their neighbours; `individual`: one piece per digit. */
    class Digits(val individual: Boolean) : PreTokenizer()
}

class TokenizerConfig(
    val cleanText: Boolean,
    val handleChineseChars: Boolean,
    val stripAccents: Boolean,
    val lowercase: Boolean,
    val preTokenizers: List<PreTokenizer>,
    val continuingSubwordPrefix: String,
    val maxInputCharsPerWord: Int,
    val unkId: Int,
    val clsId: Int,
    val sepId: Int,
    val specialIds: List<Int>,
    val maxTokens: Int,
)

class Encoded(
    val ids: IntArray,
    /** Per token, its [start, end) in the text in code points; (0, 0) for [CLS] and [SEP]. */
    val offsets: List<IntArray>,
    /** The text had more tokens than maxTokens: the tail was cut. */
    val truncated: Boolean,
) {
    /** The attention mask of these ids: 1 for every token (the row is not padded). */
    val mask: IntArray get() = IntArray(ids.size) { 1 }
}

class WordPieceTokenizer(private val config: TokenizerConfig, vocabTxt: InputStream) {
    private val vocab: Map<String, Int>
    private val specials: List<Pair<IntArray, Int>>  // code points of each special token's text, its id

    init {
        val tokens = vocabTxt.bufferedReader(Charsets.UTF_8).readLines()
        vocab = HashMap<String, Int>(tokens.size * 2).also { m -> tokens.forEachIndexed { i, t -> m.putIfAbsent(t, i) } }
        specials = config.specialIds.filter { it < tokens.size }.map { tokens[it].codePoints().toArray() to it }
            .sortedByDescending { it.first.size }
    }

    val vocabSize: Int get() = vocab.size

    fun encode(text: String): Encoded {
        val max = config.maxTokens
        val cps = text.codePoints().toArray()
        val wrapper = intArrayOf(config.clsId, config.sepId)
        if (max <= wrapper.size) {
            return Encoded(wrapper.copyOf(max), List(max) { IntArray(2) }, text.isNotBlank())
        }
        val ids = ArrayList<Int>()
        val offsets = ArrayList<IntArray>()
        var from = 0
        for ((at, special) in findSpecials(cps) + listOf(cps.size to null)) {
            tokenize(cps, from, at, ids, offsets)
            if (special != null) {
                ids.add(special.second)
                offsets.add(intArrayOf(at, at + special.first.size))
                from = at + special.first.size
            }
        }
        val keep = max - wrapper.size
        val truncated = ids.size > keep
        val outIds = IntArray(minOf(ids.size, keep) + 2)
        outIds[0] = config.clsId
        for (i in 0 until outIds.size - 2) outIds[i + 1] = ids[i]
        outIds[outIds.size - 1] = config.sepId
        val outOffsets = listOf(IntArray(2)) + offsets.take(keep) + listOf(IntArray(2))
        return Encoded(outIds, outOffsets, truncated)
    }

    /** Leftmost-longest occurrences of special tokens' texts in the raw text, as `tokenizers` finds them. */
    private fun findSpecials(cps: IntArray): List<Pair<Int, Pair<IntArray, Int>>> {
        val found = ArrayList<Pair<Int, Pair<IntArray, Int>>>()
        var i = 0
        while (i < cps.size) {
            val hit = specials.firstOrNull { (s, _) -> s.isNotEmpty() && i + s.size <= cps.size && (s.indices).all { cps[i + it] == s[it] } }
            if (hit != null) {
                found.add(i to hit)
                i += hit.first.size
            } else i++
        }
        return found
    }

    /** Normalised code points, each with the [start, end) of the original code points it came from. */
    private class Normalized(val cp: ArrayList<Int> = ArrayList(), val start: ArrayList<Int> = ArrayList(), val end: ArrayList<Int> = ArrayList()) {
        fun add(c: Int, s: Int, e: Int) { cp.add(c); start.add(s); end.add(e) }
    }

    private fun normalize(cps: IntArray, from: Int, to: Int): Normalized {
        var n = Normalized()
        for (i in from until to) n.add(cps[i], i, i + 1)
        if (config.cleanText) n = map(n) { c -> if (c == 0 || c == 0xFFFD || isControl(c)) intArrayOf() else intArrayOf(if (isWhitespace(c)) 0x20 else c) }
        if (config.handleChineseChars) n = map(n) { c -> if (isChinese(c)) intArrayOf(0x20, c, 0x20) else intArrayOf(c) }
        if (config.stripAccents) n = map(n) { c ->
            Normalizer.normalize(String(Character.toChars(c)), Normalizer.Form.NFD).codePoints()
                .filter { Character.getType(it) != Character.NON_SPACING_MARK.toInt() }.toArray()
        }
        if (config.lowercase) n = map(n) { c -> if (c == 0x130) intArrayOf(0x69, 0x307) else intArrayOf(Character.toLowerCase(c)) }
        return n
    }

    private fun map(n: Normalized, f: (Int) -> IntArray): Normalized {
        val out = Normalized()
        for (i in n.cp.indices) for (c in f(n.cp[i])) out.add(c, n.start[i], n.end[i])
        return out
    }

    private fun tokenize(cps: IntArray, from: Int, to: Int, ids: MutableList<Int>, offsets: MutableList<IntArray>) {
        if (from >= to) return
        val n = normalize(cps, from, to)
        var pieces = listOf(0 until n.cp.size)
        for (stage in config.preTokenizers) pieces = pieces.flatMap { split(n, it, stage) }
        for (piece in pieces) if (!piece.isEmpty()) wordPiece(n, piece, ids, offsets)
    }

    private fun split(n: Normalized, piece: IntRange, stage: PreTokenizer): List<IntRange> = when (stage) {
        is PreTokenizer.Bert -> splitBy(piece, { isWhitespace(n.cp[it]) }, Behavior.REMOVED)
            .flatMap { splitBy(it, { isBertPunctuation(n.cp[it]) }, Behavior.ISOLATED) }
        is PreTokenizer.WhitespaceSplit -> splitBy(piece, { isWhitespace(n.cp[it]) }, Behavior.REMOVED)
        is PreTokenizer.Digits -> splitBy(piece, { isNumeric(n.cp[it]) }, if (stage.individual) Behavior.ISOLATED else Behavior.CONTIGUOUS)
        is PreTokenizer.Split -> splitRegex(n, piece, stage)
    }

    private enum class Behavior { REMOVED, ISOLATED, CONTIGUOUS }

    private fun splitBy(piece: IntRange, match: (Int) -> Boolean, behavior: Behavior): List<IntRange> {
        val out = ArrayList<IntRange>()
        var start = piece.first
        var i = piece.first
        while (i <= piece.last) {
            if (!match(i)) { i++; continue }
            var j = i + 1
            if (behavior == Behavior.CONTIGUOUS) while (j <= piece.last && match(j)) j++
            if (start < i) out.add(start until i)
            if (behavior != Behavior.REMOVED) out.add(i until j)
            start = j
            i = j
        }
        if (start <= piece.last) out.add(start..piece.last)
        return out
    }

    private fun splitRegex(n: Normalized, piece: IntRange, stage: PreTokenizer.Split): List<IntRange> {
        val sb = StringBuilder()
        val at = IntArray(piece.count() * 2 + 1)  // UTF-16 index -> code point index in the piece
        for (k in piece) { for (u in 0 until Character.charCount(n.cp[k])) at[sb.length + u] = k; sb.appendCodePoint(n.cp[k]) }
        at[sb.length] = piece.last + 1
        val out = ArrayList<IntRange>()
        var start = piece.first
        for (m in stage.regex.findAll(sb)) {
            if (m.range.isEmpty()) continue
            val a = at[m.range.first]
            val b = at[m.range.last + 1]
            if (start < a) out.add(start until a)
            if (stage.isolated) out.add(a until b)
            start = b
        }
        if (start <= piece.last) out.add(start..piece.last)
        return out
    }

    private fun wordPiece(n: Normalized, word: IntRange, ids: MutableList<Int>, offsets: MutableList<IntArray>) {
        val chars = word.map { String(Character.toChars(n.cp[it])) }
        if (chars.size > config.maxInputCharsPerWord) return unknown(n, word, ids, offsets)
        val found = ArrayList<Pair<Int, IntRange>>()
        var start = 0
        while (start < chars.size) {
            var end = chars.size
            var hit: Int? = null
            while (start < end) {
                val piece = (if (start > 0) config.continuingSubwordPrefix else "") + chars.subList(start, end).joinToString("")
                hit = vocab[piece]
                if (hit != null) break
                end--
            }
            if (hit == null) return unknown(n, word, ids, offsets)
            found.add(hit to (word.first + start until word.first + end))
            start = end
        }
        for ((id, r) in found) { ids.add(id); offsets.add(intArrayOf(n.start[r.first], n.end[r.last])) }
    }

    private fun unknown(n: Normalized, word: IntRange, ids: MutableList<Int>, offsets: MutableList<IntArray>) {
        ids.add(config.unkId)
        offsets.add(intArrayOf(n.start[word.first], n.end[word.last]))
    }

    companion object {
        // Rust's char::is_whitespace (the White_Space property), which `tokenizers` uses; Java's differs.
        private val WHITE_SPACE = setOf(0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000) + (0x2000..0x200A)

        fun isWhitespace(c: Int): Boolean = c in WHITE_SPACE

        /** `tokenizers`' is_control: categories Cc, Cf, Cn, Co, Cs (`is_other`), except tab, newline and carriage return. */
        fun isControl(c: Int): Boolean = c != 0x9 && c != 0xA && c != 0xD && Character.getType(c).toByte() in CONTROL_TYPES

        private val CONTROL_TYPES = setOf(Character.CONTROL, Character.FORMAT, Character.UNASSIGNED, Character.PRIVATE_USE, Character.SURROGATE)

        private val PUNCTUATION_TYPES = setOf(Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
            Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION, Character.OTHER_PUNCTUATION)

        fun isBertPunctuation(c: Int): Boolean =
            (c in 0x21..0x2F) || (c in 0x3A..0x40) || (c in 0x5B..0x60) || (c in 0x7B..0x7E) || Character.getType(c).toByte() in PUNCTUATION_TYPES

        private val NUMERIC_TYPES = setOf(Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER)

        fun isNumeric(c: Int): Boolean = Character.getType(c).toByte() in NUMERIC_TYPES

        /** BERT's CJK ideograph blocks, which handle_chinese_chars makes one token each. */
        fun isChinese(c: Int): Boolean = c in 0x4E00..0x9FFF || c in 0x3400..0x4DBF || c in 0x20000..0x2A6DF ||
            c in 0x2A700..0x2B73F || c in 0x2B740..0x2B81F || c in 0x2B920..0x2CEAF || c in 0xF900..0xFAFF || c in 0x2F800..0x2FA1F
    }
}
