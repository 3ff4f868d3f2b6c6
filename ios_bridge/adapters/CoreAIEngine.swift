// Core AI behind the Engine interface, where Apple's Core AI framework exists (iOS 27, macOS 27):
// each .aimodel is loaded once (AIModel(contentsOf:)), its function (the manifest's `function`, in
// ArtifactInfo) looked up by name, and run on NDArray inputs by name. Core AI's converter narrows
// int64 ids to int32, so integer inputs go as Int32. Elsewhere this file is empty, so the package's
// logic still compiles.
#if canImport(CoreAI)
import CoreAI
import Foundation

@available(iOS 27, macOS 27, *)
public final class CoreAIEngine: Engine {
    private let root: URL
    private var functions: [String: InferenceFunction] = [:]

    /// `root`: the bundle directory as the app ships it (e.g. a folder reference in its resources).
    public init(root: URL) { self.root = root }

    public func open(_ file: String) throws -> Data { try Data(contentsOf: root.appendingPathComponent(file)) }

    /// Core AI's own calls are async; `run` waits for them, so call it off the main thread (as any
    /// inference), or await `runAsync` from async code.
    public func run(_ artifact: ArtifactInfo, inputs: [(String, Tensor)], outputs: [String]) throws -> [String: Tensor] {
        let done = DispatchSemaphore(value: 0)
        var result: Result<[String: Tensor], Error> = .failure(MobileSDKError("Core AI did not answer"))
        Task.detached {
            do { result = .success(try await self.runAsync(artifact, inputs: inputs, outputs: outputs)) } catch { result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try result.get()
    }

    public func runAsync(_ artifact: ArtifactInfo, inputs: [(String, Tensor)], outputs: [String]) async throws -> [String: Tensor] {
        let file = artifact.files[0]
        if functions[file] == nil {
            let model = try await AIModel(contentsOf: root.appendingPathComponent(file))
            guard let function = try model.loadFunction(named: artifact.function) else {
                throw MobileSDKError("\(file) has no function `\(artifact.function)`. Fix: rebuild the bundle")
            }
            functions[file] = function
        }
        var arrays: [String: NDArray] = [:]
        for (name, t) in inputs {
            arrays[name] = t.dtype == .float32 ? NDArray(scalars: t.floats, shape: t.shape)
                                               : NDArray(scalars: t.ints.map { Int32($0) }, shape: t.shape)
        }
        var result = try await functions[file]!.run(inputs: arrays)
        var out: [String: Tensor] = [:]
        for name in outputs {
            guard let array = result.remove(name)?.ndArray else {
                throw MobileSDKError("\(file) gave no output `\(name)`. Fix: rebuild the bundle")
            }
            out[name] = try Self.tensor(array, file: file, name: name)
        }
        return out
    }

    /// An output as a float32 Tensor, read through its strides (a view need not be contiguous).
    private static func tensor(_ array: NDArray, file: String, name: String) throws -> Tensor {
        switch array.scalarType {
        case .float32: return try floats(array.view(as: Float.self)) { $0 }
        case .float16: return try floats(array.view(as: Float16.self)) { Float($0) }
        case .int32: return try floats(array.view(as: Int32.self)) { Float($0) }
        default: throw MobileSDKError("\(file) output `\(name)` has scalar type \(array.scalarType). Fix: rebuild the bundle")
        }
    }

    private static func floats<T>(_ view: NDArray.View<T>, _ convert: (T) -> Float) throws -> Tensor {
        try view.withUnsafePointer { base, shape, strides in
            let dims = (0..<shape.count).map { shape[$0] }
            let steps = (0..<strides.count).map { strides[$0] }
            let count = dims.reduce(1, *)
            var values = [Float](repeating: 0, count: count)
            for flat in 0..<count {
                var rest = flat, offset = 0
                for axis in stride(from: dims.count - 1, through: 0, by: -1) {
                    offset += (rest % dims[axis]) * steps[axis]
                    rest /= dims[axis]
                }
                values[flat] = convert(base[offset])
            }
            return try Tensor.float32(dims, values)
        }
    }
}
#endif
