// Core ML behind the Engine interface, where Apple's frameworks exist: each .mlpackage is compiled
// once (MLModel.compileModel) and predicts with MLMultiArray inputs and outputs by name; the
// artifacts keep the spec's names, float32 I/O and flexible lengths. Elsewhere this file is empty,
// so the package's logic still compiles.
#if canImport(CoreML)
import CoreML
import Foundation

public final class CoreMLEngine: Engine {
    private let root: URL
    private let configuration: MLModelConfiguration
    private var models: [String: MLModel] = [:]

    /// `root`: the bundle directory as the app ships it (e.g. a folder reference in its resources).
    public init(root: URL, computeUnits: MLComputeUnits = .all) {
        self.root = root
        configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits
    }

    public func open(_ file: String) throws -> Data { try Data(contentsOf: root.appendingPathComponent(file)) }

    public func run(_ artifact: ArtifactInfo, inputs: [(String, Tensor)], outputs: [String]) throws -> [String: Tensor] {
        let file = artifact.files[0]
        if models[file] == nil {
            let compiled = try MLModel.compileModel(at: root.appendingPathComponent(file))
            models[file] = try MLModel(contentsOf: compiled, configuration: configuration)
        }
        var features: [String: MLFeatureValue] = [:]
        for (name, t) in inputs {
            let array = try MLMultiArray(shape: t.shape.map { NSNumber(value: $0) }, dataType: t.dtype == .float32 ? .float32 : .int32)
            for i in 0..<t.count { array[i] = t.dtype == .float32 ? NSNumber(value: t.floats[i]) : NSNumber(value: Int32(t.ints[i])) }
            features[name] = MLFeatureValue(multiArray: array)
        }
        let result = try models[file]!.prediction(from: MLDictionaryFeatureProvider(dictionary: features))
        var out: [String: Tensor] = [:]
        for name in outputs {
            guard let array = result.featureValue(for: name)?.multiArrayValue else {
                throw MobileSDKError("\(file) gave no output `\(name)`. Fix: rebuild the bundle")
            }
            out[name] = try Tensor.float32(array.shape.map(\.intValue), (0..<array.count).map { array[$0].floatValue })
        }
        return out
    }
}
#endif
