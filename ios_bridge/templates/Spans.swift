// Language spans from token-level language ID, as mobilesdk.text.spans computes them: WordPiece
// pieces of one word share a language, `other` words (punctuation, emoji, numbers) join the
// language before them, runs of one language merge into spans with code-point offsets.
import Foundation

public struct Span {
    public let lang: String, start: Int, end: Int, confidence: Double

    /// The span's text, cut from the string it was found in (offsets are code points).
    public func text(of s: String) -> String {
        String(String.UnicodeScalarView(Array(s.unicodeScalars)[start..<end]))
    }
}

public enum Spans {
    public static let other = "other"

    /// Probabilities from one row of logits, in double precision.
    public static func softmax(_ logits: [Double]) -> [Double] {
        guard let top = logits.max() else { return logits }
        let e = logits.map { exp($0 - top) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// The first index of the largest value (numpy's argmax).
    public static func argmax(_ x: [Double]) -> Int {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return best
    }

    /// Language spans of `text` from one row's LID scores [tokens][labels] (probabilities or logits)
    /// for tokens with these code-point `offsets` (special tokens have empty offsets and are skipped).
    public static func spans(_ text: String, _ offsets: [(Int, Int)], _ lid: [[Double]], _ labels: [String]) -> [Span] {
        let cps = Array(text.unicodeScalars)
        let isProbabilities = lid.allSatisfy { row in row.allSatisfy { $0 >= 0 } && abs(row.reduce(0, +) - 1) <= 1e-3 + 1e-5 }
        let probs = isProbabilities ? lid : lid.map(softmax)
        var words: [(start: Int, end: Int, probs: [[Double]])] = []
        for (i, off) in offsets.enumerated() where off.1 > off.0 {
            if let last = words.last, joins(cps, last.end, off.0) {
                words[words.count - 1].end = off.1
                words[words.count - 1].probs.append(probs[i])
            } else { words.append((off.0, off.1, [probs[i]])) }
        }
        let labelled = words.map { w -> (start: Int, end: Int, lang: String, confidence: Double) in
            let mean = labels.indices.map { k in w.probs.reduce(0) { $0 + $1[k] } / Double(w.probs.count) }
            let best = argmax(mean)
            return (w.start, w.end, labels[best], mean[best])
        }
        guard let firstReal = labelled.first(where: { $0.lang != other }) else {
            guard let first = labelled.first, let last = labelled.last else { return [] }
            return [Span(lang: other, start: first.start, end: last.end,
                         confidence: labelled.reduce(0) { $0 + $1.confidence } / Double(labelled.count))]
        }
        var merged: [(lang: String, start: Int, end: Int, confidences: [Double])] = []
        for w in labelled {
            let own = w.lang != other
            let lang = own ? w.lang : (merged.last?.lang ?? firstReal.lang)
            if let last = merged.last, last.lang == lang {
                merged[merged.count - 1].end = w.end
                if own { merged[merged.count - 1].confidences.append(w.confidence) }
            } else { merged.append((lang, w.start, w.end, own ? [w.confidence] : [])) }
        }
        return merged.map { m in
            let mean = m.confidences.reduce(0, +) / Double(m.confidences.count)
            return Span(lang: m.lang, start: m.start, end: m.end, confidence: (mean * 10_000).rounded(.toNearestOrEven) / 10_000)
        }
    }

    /// The token ending at `leftEnd` and the one starting at `rightStart` are pieces of one word.
    private static func joins(_ cps: [Unicode.Scalar], _ leftEnd: Int, _ rightStart: Int) -> Bool {
        if leftEnd != rightStart || leftEnd == 0 || rightStart >= cps.count { return false }
        let (a, b) = (cps[leftEnd - 1], cps[rightStart])
        return isAlnum(a) && isAlnum(b) && !isCjk(a) && !isCjk(b)
    }

    /// Python's str.isalnum for one code point: a letter (L*) or a number (Nd, Nl, No).
    static func isAlnum(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    private static func isCjk(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        return (0x3400...0x9FFF).contains(v) || (0xF900...0xFAFF).contains(v) || (0x20000...0x2FA1F).contains(v)
    }
}
