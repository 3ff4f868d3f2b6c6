// Running one artifact. The only call that needs a device runtime is `Engine.run`: one artifact on
// tensors exactly as it takes them. Checking inputs against the spec is plain Swift here, so the
// logic compiles without Apple's frameworks; CoreMLEngine implements Engine where Core ML exists.
import Foundation

public protocol Engine {
    /// A bundle file (vocab, golden case) by its bundle path.
    func open(_ file: String) throws -> Data
    /// Run `file` (a bundle path) on `inputs` by name; the outputs named `outputs`.
    func run(_ file: String, inputs: [(String, Tensor)], outputs: [String]) throws -> [String: Tensor]
}

/// Spec-shaped inputs in, spec-shaped outputs out, for one artifact.
public struct ArtifactRunner {
    let model: ModelInfo
    let artifact: ArtifactInfo
    let engine: Engine

    public init(_ model: ModelInfo, _ artifact: ArtifactInfo, _ engine: Engine) throws {
        if artifact.format != "coreml" {
            throw MobileSDKError("`\(artifact.format)` artifacts do not run on iOS. Fix: pick a coreml artifact of model `\(model.name)`")
        }
        self.model = model
        self.artifact = artifact
        self.engine = engine
    }

    /// Core ML models keep the spec's names, dtypes and flexible lengths: the inputs go as they are.
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        _ = try model.lengths(inputs)
        return try engine.run(artifact.files[0], inputs: model.inputs.map { ($0.name, inputs[$0.name]!.cast($0.dtype)) },
                              outputs: model.outputs.map(\.name))
    }
}
