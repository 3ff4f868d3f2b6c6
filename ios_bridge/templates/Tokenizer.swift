// The text models' tokenizer, reproducing the bundle's Hugging Face `tokenizers` pipeline (ids and
// character offsets): BERT normalisation, the pre-tokenizer stages the manifest records, WordPiece,
// [CLS] ... [SEP] and truncation. Hand-written: Hugging Face ships no Swift tokenizer for this.
// Offsets count Unicode scalars (code points), as Python's str does.
import Foundation

public enum PreTokenizer {
    /// BERT's: split on whitespace (dropped) and punctuation (kept, one token each).
    case bert
    /// Split on whitespace only.
    case whitespaceSplit
    /// `tokenizers`' Split with a regex; `isolated` keeps the matches as pieces, else they are dropped.
    case split(String, isolated: Bool)
    /// Runs of digits (Unicode N*) split from their neighbours; `individual`: one piece per digit.
    case digits(individual: Bool)
}

public struct TokenizerConfig {
    public let cleanText: Bool, handleChineseChars: Bool, stripAccents: Bool, lowercase: Bool
    public let preTokenizers: [PreTokenizer]
    public let continuingSubwordPrefix: String
    public let maxInputCharsPerWord: Int
    public let unkId: Int, clsId: Int, sepId: Int
    public let specialIds: [Int]
    public let maxTokens: Int
}

public struct Encoded {
    public let ids: [Int]
    /// Per token, its [start, end) in the text in code points; (0, 0) for [CLS] and [SEP].
    public let offsets: [(Int, Int)]
    /// The text had more tokens than maxTokens: the tail was cut.
    public let truncated: Bool
}

public final class WordPieceTokenizer {
    private let config: TokenizerConfig
    private let vocab: [String: Int]
    private let specials: [([Unicode.Scalar], Int)]  // each special token's text and id, longest first
    private let regexes: [String: NSRegularExpression]

    public init(_ config: TokenizerConfig, vocabTxt: Data) throws {
        self.config = config
        let tokens = String(decoding: vocabTxt, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var v: [String: Int] = [:]
        for (i, t) in tokens.enumerated() where v[t] == nil && !(i == tokens.count - 1 && t.isEmpty) { v[t] = i }
        vocab = v
        specials = config.specialIds.filter { $0 < tokens.count }.map { (Array(tokens[$0].unicodeScalars), $0) }
            .sorted { $0.0.count > $1.0.count }
        var re: [String: NSRegularExpression] = [:]
        for case let .split(pattern, _) in config.preTokenizers { re[pattern] = try NSRegularExpression(pattern: pattern) }
        regexes = re
    }

    public func encode(_ text: String) -> Encoded {
        let cps = Array(text.unicodeScalars)
        let max = config.maxTokens
        let wrapper = [config.clsId, config.sepId]
        if max <= wrapper.count {
            return Encoded(ids: Array(wrapper.prefix(max)), offsets: Array(repeating: (0, 0), count: max),
                           truncated: !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        }
        var ids: [Int] = []
        var offsets: [(Int, Int)] = []
        var from = 0
        for (at, special) in findSpecials(cps) + [(cps.count, nil)] {
            tokenize(cps, from, at, &ids, &offsets)
            if let special = special {
                ids.append(special.1)
                offsets.append((at, at + special.0.count))
                from = at + special.0.count
            }
        }
        let keep = max - wrapper.count
        return Encoded(ids: [config.clsId] + ids.prefix(keep) + [config.sepId],
                       offsets: [(0, 0)] + offsets.prefix(keep) + [(0, 0)], truncated: ids.count > keep)
    }

    /// Leftmost-longest occurrences of special tokens' texts in the raw text, as `tokenizers` finds them.
    private func findSpecials(_ cps: [Unicode.Scalar]) -> [(Int, ([Unicode.Scalar], Int)?)] {
        var found: [(Int, ([Unicode.Scalar], Int)?)] = []
        var i = 0
        while i < cps.count {
            if let hit = specials.first(where: { s in !s.0.isEmpty && i + s.0.count <= cps.count && Array(cps[i..<i + s.0.count]) == s.0 }) {
                found.append((i, hit))
                i += hit.0.count
            } else { i += 1 }
        }
        return found
    }

    /// Normalised code points, each with the [start, end) of the original code points it came from.
    private struct Normalized { var cp: [Unicode.Scalar] = [], start: [Int] = [], end: [Int] = [] }

    private func map(_ n: Normalized, _ f: (Unicode.Scalar) -> [Unicode.Scalar]) -> Normalized {
        var out = Normalized()
        for i in n.cp.indices { for c in f(n.cp[i]) { out.cp.append(c); out.start.append(n.start[i]); out.end.append(n.end[i]) } }
        return out
    }

    private func normalize(_ cps: [Unicode.Scalar], _ from: Int, _ to: Int) -> Normalized {
        var n = Normalized()
        for i in from..<to { n.cp.append(cps[i]); n.start.append(i); n.end.append(i + 1) }
        let space: Unicode.Scalar = " "
        if config.cleanText {
            n = map(n) { c in c.value == 0 || c.value == 0xFFFD || Self.isControl(c) ? [] : [Self.isWhitespace(c) ? space : c] }
        }
        if config.handleChineseChars { n = map(n) { c in Self.isChinese(c) ? [space, c, space] : [c] } }
        if config.stripAccents {
            n = map(n) { c in Array(String(c).decomposedStringWithCanonicalMapping.unicodeScalars).filter { $0.properties.generalCategory != .nonspacingMark } }
        }
        if config.lowercase { n = map(n) { c in Array(c.properties.lowercaseMapping.unicodeScalars) } }
        return n
    }

    private func tokenize(_ cps: [Unicode.Scalar], _ from: Int, _ to: Int, _ ids: inout [Int], _ offsets: inout [(Int, Int)]) {
        if from >= to { return }
        let n = normalize(cps, from, to)
        var pieces = [0..<n.cp.count]
        for stage in config.preTokenizers { pieces = pieces.flatMap { split(n, $0, stage) } }
        for piece in pieces where !piece.isEmpty { wordPiece(n, piece, &ids, &offsets) }
    }

    private enum Behavior { case removed, isolated, contiguous }

    private func split(_ n: Normalized, _ piece: Range<Int>, _ stage: PreTokenizer) -> [Range<Int>] {
        switch stage {
        case .bert:
            return splitBy(piece, { Self.isWhitespace(n.cp[$0]) }, .removed).flatMap { splitBy($0, { Self.isBertPunctuation(n.cp[$0]) }, .isolated) }
        case .whitespaceSplit:
            return splitBy(piece, { Self.isWhitespace(n.cp[$0]) }, .removed)
        case .digits(let individual):
            return splitBy(piece, { Self.isNumeric(n.cp[$0]) }, individual ? .isolated : .contiguous)
        case .split(let pattern, let isolated):
            return splitRegex(n, piece, regexes[pattern]!, isolated)
        }
    }

    private func splitBy(_ piece: Range<Int>, _ match: (Int) -> Bool, _ behavior: Behavior) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = piece.lowerBound
        var i = piece.lowerBound
        while i < piece.upperBound {
            if !match(i) { i += 1; continue }
            var j = i + 1
            if behavior == .contiguous { while j < piece.upperBound && match(j) { j += 1 } }
            if start < i { out.append(start..<i) }
            if behavior != .removed { out.append(i..<j) }
            start = j
            i = j
        }
        if start < piece.upperBound { out.append(start..<piece.upperBound) }
        return out
    }

    private func splitRegex(_ n: Normalized, _ piece: Range<Int>, _ re: NSRegularExpression, _ isolated: Bool) -> [Range<Int>] {
        var s = String.UnicodeScalarView()
        var at: [Int] = []  // UTF-16 index -> code point index
        for k in piece {
            for _ in 0..<(n.cp[k].value > 0xFFFF ? 2 : 1) { at.append(k) }
            s.append(n.cp[k])
        }
        at.append(piece.upperBound)
        let text = String(s)
        var out: [Range<Int>] = []
        var start = piece.lowerBound
        for m in re.matches(in: text, range: NSRange(location: 0, length: (text as NSString).length)) where m.range.length > 0 {
            let a = at[m.range.location], b = at[m.range.location + m.range.length]
            if start < a { out.append(start..<a) }
            if isolated { out.append(a..<b) }
            start = b
        }
        if start < piece.upperBound { out.append(start..<piece.upperBound) }
        return out
    }

    private func wordPiece(_ n: Normalized, _ word: Range<Int>, _ ids: inout [Int], _ offsets: inout [(Int, Int)]) {
        let chars = word.map { String(n.cp[$0]) }
        if chars.count > config.maxInputCharsPerWord { return unknown(n, word, &ids, &offsets) }
        var found: [(Int, Range<Int>)] = []
        var start = 0
        while start < chars.count {
            var end = chars.count
            var hit: Int? = nil
            while start < end {
                hit = vocab[(start > 0 ? config.continuingSubwordPrefix : "") + chars[start..<end].joined()]
                if hit != nil { break }
                end -= 1
            }
            guard let id = hit else { return unknown(n, word, &ids, &offsets) }
            found.append((id, word.lowerBound + start..<word.lowerBound + end))
            start = end
        }
        for (id, r) in found { ids.append(id); offsets.append((n.start[r.lowerBound], n.end[r.upperBound - 1])) }
    }

    private func unknown(_ n: Normalized, _ word: Range<Int>, _ ids: inout [Int], _ offsets: inout [(Int, Int)]) {
        ids.append(config.unkId)
        offsets.append((n.start[word.lowerBound], n.end[word.upperBound - 1]))
    }

    // Rust's char::is_whitespace (the White_Space property), which `tokenizers` uses.
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

    /// `tokenizers`' is_control: categories Cc, Cf, Cn, Co, Cs, except tab, newline and carriage return.
    static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c.value == 0x9 || c.value == 0xA || c.value == 0xD { return false }
        switch c.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isBertPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v) || (0x7B...0x7E).contains(v) { return true }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isNumeric(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// BERT's CJK ideograph blocks, which handle_chinese_chars makes one token each.
    static func isChinese(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        return (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B920...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
