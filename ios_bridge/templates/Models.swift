// The model classes apps call. Which class a model gets follows from its spec, never its name (as
// `mobilesdk run` decides): a tokenizer makes a TextClassifier, a CTC head an Aligner, an output
// shaped like the audio input an Enhancer, anything else a GenericModel with tensors by name.
import Foundation

/// Any model of the bundle: spec-shaped tensors in and out by name, checked against the spec.
public class GenericModel {
    public let info: ModelInfo
    public let artifact: ArtifactInfo
    let engine: Engine
    private let runner: ArtifactRunner

    public init(_ info: ModelInfo, _ artifact: ArtifactInfo, _ engine: Engine) throws {
        self.info = info
        self.artifact = artifact
        self.engine = engine
        runner = try ArtifactRunner(info, artifact, engine)
    }

    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        for t in info.inputs where t.dtype != .float32 && inputs[t.name]?.dtype == .float32 {
            throw MobileSDKError("input `\(t.name)` holds floats; model `\(info.name)` takes \(t.dtype.rawValue). Fix: pass integer values")
        }
        return try runner.run(inputs)
    }

    /// The value of a category input for one of its labels (e.g. lang_id for "en").
    public func category(_ input: String, _ label: String) throws -> Int {
        guard let t = info.inputs.first(where: { $0.name == input && $0.kind == "category" }) else {
            throw MobileSDKError("model `\(info.name)` has no category input `\(input)`")
        }
        guard let i = t.labels.firstIndex(of: label) else {
            throw MobileSDKError("`\(label)` is not a value of `\(input)`. Fix: use one of \(t.labels.isEmpty ? "\(t.low)...\(t.high - 1)" : t.labels.joined(separator: ", "))")
        }
        return t.low + i
    }

    /// One row of `length` positions: the tokens or audio input holds `data` right-padded with zeros,
    /// masks are 1 over `data`, each category input takes its value from `categories`, other inputs are zeros.
    func oneRow(_ length: Int, _ data: [Double], _ categories: [String: Int]) throws -> [String: Tensor] {
        let wanted = info.inputs.filter { $0.kind == "category" }
        for name in categories.keys where !wanted.contains(where: { $0.name == name }) {
            throw MobileSDKError("model `\(info.name)` takes no category input `\(name)`. Fix: use one of \(wanted.isEmpty ? "(none)" : wanted.map(\.name).joined(separator: ", "))")
        }
        for t in wanted {
            guard let v = categories[t.name] else {
                throw MobileSDKError("model `\(info.name)` needs input `\(t.name)`. Fix: pass \(t.name) = one of \(t.low)...\(t.high - 1)")
            }
            if v < t.low || v >= t.high { throw MobileSDKError("input `\(t.name)` = \(v) is outside \(t.low)...\(t.high - 1). Fix: pass a value in that range") }
        }
        var out: [String: Tensor] = [:]
        for t in info.inputs {
            let shape = t.shape.map { $0.dim == "batch" ? 1 : $0.isStatic ? $0.size : length }
            let values: [Double] = (0..<shape.reduce(1, *)).map { k in
                let pos = k % max(length, 1)  // the length axis is the last: every leading row gets `data`
                switch t.kind {
                case "tokens", "audio": return pos < data.count ? data[pos] : 0
                case "mask": return pos < data.count ? 1 : 0
                case "category": return Double(categories[t.name] ?? 0)
                default: return 0
                }
            }
            out[t.name] = try t.dtype == .float32 ? Tensor.float32(shape, values.map { Float($0) }) : Tensor.integer(t.dtype, shape, values.map { Int64($0) })
        }
        return out
    }
}

public struct TextResult {
    public let tokens: Int
    /// The text had more tokens than the model takes: the tail was not read.
    public let truncated: Bool
    /// Per classification output, label -> probability.
    public let classes: [String: [String: Double]]
    /// Per token-level language output, the language spans of the text.
    public let spans: [String: [Span]]
}

public final class TextClassifier: GenericModel {
    public let tokenizer: WordPieceTokenizer

    public override init(_ info: ModelInfo, _ artifact: ArtifactInfo, _ engine: Engine) throws {
        guard let config = info.tokenizer else {
            throw MobileSDKError("model `\(info.name)` has no tokenizer. Fix: build it with `tokenizer` and `sentences` in its [models] table")
        }
        tokenizer = try WordPieceTokenizer(config, vocabTxt: try engine.open(info.vocab))
        try super.init(info, artifact, engine)
    }

    public func classify(_ text: String) throws -> TextResult {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw MobileSDKError("the text is empty. Fix: pass the text to classify") }
        let enc = tokenizer.encode(text)
        let out = try run(oneRow(enc.ids.count, enc.ids.map(Double.init), [:]))
        var classes: [String: [String: Double]] = [:]
        var spans: [String: [Span]] = [:]
        for o in info.outputs where !o.labels.isEmpty {
            let y = out[o.name]!
            let width = y.shape.last!
            let rows = (0..<y.count / width).map { r in Spans.softmax((0..<width).map { Double(y.float(r * width + $0)) }) }
            if o.metric == "lid" {
                spans[o.name] = Spans.spans(text, enc.offsets, rows, o.labels)
            } else if o.positionAxis < 0 {
                classes[o.name] = Dictionary(uniqueKeysWithValues: zip(o.labels, rows[0]))
            }
        }
        return TextResult(tokens: enc.ids.count, truncated: enc.truncated, classes: classes, spans: spans)
    }
}

public struct Recognition {
    /// Greedy decoding of the CTC head: the phonemes heard.
    public let phonemes: [String]
    /// Forced alignment of the phonemes asked for (empty when none were).
    public let segments: [Segment]
    /// Mean segment score of the forced alignment (0 is certain), or nil without one.
    public var score: Double? { segments.isEmpty ? nil : segments.reduce(0) { $0 + $1.score } / Double(segments.count) }
}

public class AudioModel: GenericModel {
    public static let sampleRate = 16000
    public let audio: TensorInfo
    public let samples: Dim

    public override init(_ info: ModelInfo, _ artifact: ArtifactInfo, _ engine: Engine) throws {
        guard let audio = info.input(kind: "audio"), let samples = info.dim(audio.shape.last!.dim) else {
            throw MobileSDKError("model `\(info.name)` takes no audio input of dynamic length")
        }
        self.audio = audio
        self.samples = samples
        try super.init(info, artifact, engine)
    }

    func checkAudio(_ pcm: [Float]) throws {
        if pcm.count < samples.min {
            throw MobileSDKError("the audio has \(pcm.count) samples; model `\(info.name)` needs at least \(samples.min) (\(Double(samples.min) / Double(Self.sampleRate)) s). Fix: pass longer audio")
        }
    }
}

public final class Aligner: AudioModel {
    public let head: TensorInfo
    public let labels: [String]
    public let timing: FrameTiming

    public override init(_ info: ModelInfo, _ artifact: ArtifactInfo, _ engine: Engine) throws {
        guard let head = info.outputs.first(where: { $0.ctcBlank >= 0 }), let frames = info.derived(head.shape[1].dim) else {
            throw MobileSDKError("model `\(info.name)` has no CTC head over a frame axis derived from the audio")
        }
        self.head = head
        labels = head.labels.isEmpty ? (0..<head.shape.last!.size).map(String.init) : head.labels
        timing = FrameTiming(stride: frames.stride, receptiveField: frames.receptiveField, sampleRate: AudioModel.sampleRate)
        try super.init(info, artifact, engine)
    }

    /// The greedy phonemes of 16 kHz mono `pcm`, and with `phonemes` (symbols of `labels`) their forced alignment.
    public func recognise(_ pcm: [Float], phonemes: [String]? = nil, categories: [String: Int] = [:]) throws -> Recognition {
        try checkAudio(pcm)
        if pcm.count > samples.max {
            throw MobileSDKError("the audio is \(Double(pcm.count) / Double(Self.sampleRate)) s; model `\(info.name)` takes at most \(Double(samples.max) / Double(Self.sampleRate)) s. Fix: cut it")
        }
        let wanted = try phonemes.map { try $0.map { p -> Int in
            guard let id = labels.firstIndex(of: p), id != head.ctcBlank else {
                throw MobileSDKError("phoneme `\(p)` is not one model `\(info.name)` knows. Fix: use " + labels.enumerated().filter { $0.offset != head.ctcBlank }.map(\.element).joined(separator: " "))
            }
            return id
        } }
        let padded = (pcm.count + samples.multipleOf - 1) / samples.multipleOf * samples.multipleOf
        let out = try run(oneRow(padded, pcm.map(Double.init), categories))[head.name]!
        let classes = out.shape.last!
        let logProbs = Ctc.logSoftmax((0..<timing.frames(pcm.count)).map { t in (0..<classes).map { Double(out.float(t * classes + $0)) } })
        let greedy = Ctc.greedy(logProbs, blank: head.ctcBlank).map { labels[$0] }
        guard let targets = wanted else { return Recognition(phonemes: greedy, segments: []) }
        if targets.isEmpty { throw MobileSDKError("no phonemes to align. Fix: pass the phonemes of what is said") }
        return Recognition(phonemes: greedy, segments: try Ctc.align(logProbs, targets, timing, blank: head.ctcBlank, labels: labels))
    }
}

public final class Enhancer: AudioModel {
    public let output: TensorInfo

    public override init(_ info: ModelInfo, _ artifact: ArtifactInfo, _ engine: Engine) throws {
        let shape = info.input(kind: "audio")?.shape.map(\.description)
        guard let output = info.outputs.first(where: { $0.shape.map(\.description) == shape }) else {
            throw MobileSDKError("model `\(info.name)` has no output shaped like its audio input")
        }
        self.output = output
        try super.init(info, artifact, engine)
    }

    /// The longest chunk the artifact takes, and how much neighbouring chunks cross-fade (as `mobilesdk run`).
    public var window: Int { samples.max - samples.max % samples.multipleOf }
    public var overlap: Int { window / 8 }

    /// 16 kHz mono `pcm` of any length enhanced, in overlap-added chunks of `window` samples.
    public func enhance(_ pcm: [Float], categories: [String: Int] = [:]) throws -> [Float] {
        try checkAudio(pcm)
        return try Chunks.overlapAdd(pcm, window: window, overlap: overlap) { chunk in
            let y = try run(oneRow(window, chunk.map(Double.init), categories))[output.name]!
            return (0..<y.count).map { y.float($0) }
        }
    }
}
