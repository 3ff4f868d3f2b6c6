// What the generated bundle file says about each model, from manifest.json and the spec it lists:
// tensors with dtypes and named axes, dims and their ranges, masks, artifacts with their
// thresholds, golden cases. The model classes and the self-test read only this.
import Foundation

/// One axis of a tensor: a static size, or a named dim ("batch", "samples", "frames", ...).
public struct Axis: CustomStringConvertible {
    public let size: Int
    public let dim: String
    public var isStatic: Bool { dim.isEmpty }
    public static func of(_ size: Int) -> Axis { Axis(size: size, dim: "") }
    public static func of(_ dim: String) -> Axis { Axis(size: -1, dim: dim) }
    public var description: String { isStatic ? String(size) : dim }
}

public struct Dim {
    public let name: String, min: Int, max: Int, multipleOf: Int
    public init(_ name: String, _ min: Int, _ max: Int, _ multipleOf: Int) {
        self.name = name
        self.min = min
        self.max = max
        self.multipleOf = multipleOf
    }
    public func check(_ n: Int) -> Bool { n >= min && n <= max && n % multipleOf == 0 }
}

/// An output axis computed from an input axis by a stack of (kernel, stride) convolutions.
public struct DerivedDim {
    public let name: String, source: String, convStack: [(Int, Int)]
    public init(_ name: String, _ source: String, _ convStack: [(Int, Int)]) {
        self.name = name
        self.source = source
        self.convStack = convStack
    }
    public var stride: Int { convStack.reduce(1) { $0 * $1.1 } }
    public var receptiveField: Int {
        var (rf, jump) = (1, 1)
        for (k, st) in convStack { rf += (k - 1) * jump; jump *= st }
        return rf
    }
    public func length(_ n: Int) -> Int { convStack.reduce(n) { len, ks in len >= ks.0 ? (len - ks.0) / ks.1 + 1 : 0 } }
}

public struct TensorInfo {
    public let name: String
    public let dtype: DType
    public let shape: [Axis]
    /// Inputs: "audio", "tokens", "mask", "category" or "".
    public var kind = ""
    public var low = 0
    public var high = 0
    /// Class names along an output's last axis, or a category input's values low, low + 1, ...
    public var labels: [String] = []
    /// Outputs: "sqnr", "top1", "frame_argmax" or "lid".
    public var metric = "sqnr"
    /// Outputs: the axis that runs over positions, or -1.
    public var positionAxis = -1
    /// CTC heads: the blank class, or -1.
    public var ctcBlank = -1
}

public struct Threshold {
    public let sqnrDb: Double, agreement: Double, tieMargin: Double
    public init(_ sqnrDb: Double, _ agreement: Double, _ tieMargin: Double) {
        self.sqnrDb = sqnrDb
        self.agreement = agreement
        self.tieMargin = tieMargin
    }
}

public struct ArtifactInfo {
    public let format: String
    public let precision: String
    /// Paths relative to the bundle root; the first is the main one.
    public let files: [String]
    /// Per output, the parity threshold at this precision.
    public let thresholds: [String: Threshold]
    public let passed: Bool
    /// The function a Core AI artifact runs (the manifest's `meta.function`); "" for other formats.
    public var function: String = ""
}

public struct GoldenInfo {
    public let name: String, path: String
    public init(_ name: String, _ path: String) {
        self.name = name
        self.path = path
    }
}

public struct ModelInfo {
    public let name: String
    public let inputs: [TensorInfo]
    public let outputs: [TensorInfo]
    public let dims: [Dim]
    public let derivedDims: [DerivedDim]
    /// Mask input -> the dim it masks.
    public let masks: [String: String]
    public let golden: [GoldenInfo]
    public let artifacts: [ArtifactInfo]
    public var tokenizer: TokenizerConfig? = nil
    /// Bundle path of the tokenizer's vocab.txt, for text models.
    public var vocab = ""

    public func dim(_ name: String) -> Dim? { dims.first { $0.name == name } }
    public func derived(_ name: String) -> DerivedDim? { derivedDims.first { $0.name == name } }
    public func input(kind: String) -> TensorInfo? { inputs.first { $0.kind == kind } }

    /// The artifact of this format and precision; a typed error listing the others when absent.
    public func artifact(_ format: String, _ precision: String) throws -> ArtifactInfo {
        guard let a = artifacts.first(where: { $0.format == format && $0.precision == precision }) else {
            throw MobileSDKError("model `\(name)` has no artifact \(format)/\(precision) in this bundle. Fix: pick one of "
                + artifacts.map { "\($0.format)/\($0.precision)" }.joined(separator: ", "))
        }
        return a
    }

    /// An output's concrete shape for inputs with these dim lengths (derived dims computed).
    public func outputShape(_ output: TensorInfo, _ lengths: [String: Int]) -> [Int] {
        output.shape.map { ax in
            if ax.isStatic { return ax.size }
            if let d = derived(ax.dim) { return d.length(lengths[d.source] ?? 0) }
            return lengths[ax.dim] ?? 0
        }
    }

    /// Every named dim's length in these inputs (checked against the spec: a typed error names the fix).
    public func lengths(_ given: [String: Tensor]) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for t in inputs {
            guard let x = given[t.name] else {
                throw MobileSDKError("model `\(name)` needs input `\(t.name)`. Fix: pass " + inputs.map(\.name).joined(separator: ", "))
            }
            if x.shape.count != t.shape.count {
                throw MobileSDKError("input `\(t.name)` has shape \(x.shape); model `\(name)` takes \(t.shape). Fix: pass a tensor of rank \(t.shape.count)")
            }
            for (axis, ax) in t.shape.enumerated() {
                let n = x.shape[axis]
                let seen = out[ax.dim] ?? n
                if !ax.isStatic { out[ax.dim] = seen }
                if (ax.isStatic && n != ax.size) || (!ax.isStatic && seen != n) {
                    throw MobileSDKError("input `\(t.name)` has shape \(x.shape); model `\(name)` takes \(t.shape) with one length per named axis. Fix: give it that shape")
                }
            }
        }
        for (d, n) in out {
            guard let dim = self.dim(d) else { continue }
            if !dim.check(n) {
                throw MobileSDKError("`\(d)` is \(n); model `\(name)` takes \(dim.min)...\(dim.max)"
                    + (dim.multipleOf > 1 ? ", a multiple of \(dim.multipleOf)" : "") + ". Fix: pad or cut the input to such a length")
            }
        }
        return out
    }
}
