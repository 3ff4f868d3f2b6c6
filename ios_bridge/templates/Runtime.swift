// Running one artifact. The only call that needs a device runtime is `Engine.run`: one artifact on
// tensors exactly as it takes them. Checking inputs against the spec is plain Swift here, so the
// logic compiles without Apple's frameworks; CoreMLEngine implements Engine where Core ML exists,
// CoreAIEngine where Core AI does.
import Foundation

public protocol Engine {
    /// A bundle file (vocab, golden case) by its bundle path.
    func open(_ file: String) throws -> Data
    /// Run `artifact` (its main file, `files[0]`, is a bundle path) on `inputs` by name; the outputs named `outputs`.
    func run(_ artifact: ArtifactInfo, inputs: [(String, Tensor)], outputs: [String]) throws -> [String: Tensor]
}

/// The formats an iOS engine runs.
public let iosFormats = ["coreml", "coreai"]

/// Spec-shaped inputs in, spec-shaped outputs out, for one artifact.
public struct ArtifactRunner {
    let model: ModelInfo
    let artifact: ArtifactInfo
    let engine: Engine

    public init(_ model: ModelInfo, _ artifact: ArtifactInfo, _ engine: Engine) throws {
        if !iosFormats.contains(artifact.format) {
            throw MobileSDKError("`\(artifact.format)` artifacts do not run on iOS. Fix: pick a coreml or coreai artifact of model `\(model.name)`")
        }
        self.model = model
        self.artifact = artifact
        self.engine = engine
    }

    /// Core ML and Core AI models keep the spec's names and flexible lengths: the inputs go as they are
    /// (an engine narrows integer dtypes its runtime wants narrower).
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        _ = try model.lengths(inputs)
        return try engine.run(artifact, inputs: model.inputs.map { ($0.name, inputs[$0.name]!.cast($0.dtype)) },
                              outputs: model.outputs.map(\.name))
    }
}
