// The golden self-test: replay the bundle's golden cases through one artifact on this device's
// runtime and judge each output against the manifest's thresholds, as `mobilesdk build` judged it
// against PyTorch (valid positions only; worst SQNR over the cases, agreement pooled over all
// decisions). One call for an app's test. It writes what it got, as .npz per case and
// results.json, for `mobilesdk` to read back.
import Foundation

public struct OutputCheck {
    public let output: String
    public let sqnrDb: Double
    /// Share of top-1 / frame / LID decisions that match PyTorch's, or nil for SQNR-only outputs.
    public let agreement: Double?
    public let maxAbs: Double
    public let minSqnrDb: Double
    public let minAgreement: Double
    public var passed: Bool { sqnrDb >= minSqnrDb && (agreement == nil || agreement! >= minAgreement) }
}

public struct SelfTestReport {
    public let model: String, format: String, precision: String
    public let cases: [String]
    public let checks: [OutputCheck]
    public var passed: Bool { checks.allSatisfy(\.passed) }

    public func render() -> String {
        (["\(model) \(format)/\(precision) on \(cases.count) golden case(s): \(passed ? "pass" : "FAIL")"] + checks.map { c in
            "  \(c.output): SQNR \(String(format: "%.1f", c.sqnrDb)) dB (min \(c.minSqnrDb))"
                + (c.agreement.map { ", agreement \(String(format: "%.4f", $0)) (min \(c.minAgreement))" } ?? "")
                + ", max abs \(String(format: "%.3g", c.maxAbs))" + (c.passed ? "" : "  FAIL")
        }).joined(separator: "\n")
    }

    public func json(bundle: String, manifestSha256: String) throws -> Data {
        func num(_ x: Double?) -> Any { x.map { $0.isFinite ? $0 as Any : NSNull() } ?? NSNull() }
        let body: [String: Any] = [
            "bundle": bundle, "manifest_sha256": manifestSha256, "model": model, "format": format, "precision": precision,
            "cases": cases, "passed": passed,
            "outputs": checks.map { c in ["output": c.output, "sqnr_db": num(c.sqnrDb), "agreement": num(c.agreement),
                                         "max_abs": num(c.maxAbs), "min_sqnr_db": num(c.minSqnrDb),
                                         "min_agreement": num(c.minAgreement), "passed": c.passed] as [String: Any] },
        ]
        return try JSONSerialization.data(withJSONObject: body, options: [.prettyPrinted, .sortedKeys])
    }
}

public enum SelfTest {
    static let sqnrCapDb = 200.0

    /// Every golden case of `model` through `artifact` on `engine`; with `writeTo`, the outputs it got
    /// as <case>.npz (`output.<name>` arrays) and the report as results.json in that directory.
    public static func run(_ model: ModelInfo, _ artifact: ArtifactInfo, _ engine: Engine, bundle: String = "",
                           manifestSha256: String = "", writeTo: URL? = nil) throws -> SelfTestReport {
        let runner = try ArtifactRunner(model, artifact, engine)
        var stats: [String: [Stats]] = [:]
        for golden in model.golden {
            let arrays = try Npy.readNpz(try engine.open(golden.path))
            var inputs: [String: Tensor] = [:]
            for t in model.inputs {
                guard let x = arrays["input.\(t.name)"] else { throw MobileSDKError("golden case \(golden.path) has no input `\(t.name)`. Fix: rebuild the bundle") }
                inputs[t.name] = x
            }
            let got = try runner.run(inputs)
            for o in model.outputs {
                guard let ref = arrays["output.\(o.name)"], let y = got[o.name] else { throw MobileSDKError("golden case \(golden.path) has no output `\(o.name)`") }
                stats[o.name, default: []].append(try compare(model, o, inputs, ref, y, threshold(artifact, o).tieMargin))
            }
            if let dir = writeTo {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                try Npy.writeNpz(model.outputs.map { ("output.\($0.name)", got[$0.name]!) }).write(to: dir.appendingPathComponent("\(golden.name).npz"))
            }
        }
        let checks = try model.outputs.map { o -> OutputCheck in
            let s = stats[o.name] ?? []
            let judged = s.filter { $0.agreement != nil }
            let decisions = judged.reduce(0) { $0 + $1.decisions }
            let pooled: Double? = judged.isEmpty ? nil : decisions > 0
                ? judged.reduce(0.0) { $0 + $1.agreement! * Double($1.decisions) } / Double(decisions) : judged.map { $0.agreement! }.min()
            let t = try threshold(artifact, o)
            return OutputCheck(output: o.name, sqnrDb: s.map(\.sqnrDb).min() ?? sqnrCapDb, agreement: pooled,
                               maxAbs: s.map(\.maxAbs).max() ?? 0, minSqnrDb: t.sqnrDb, minAgreement: t.agreement)
        }
        let report = SelfTestReport(model: model.name, format: artifact.format, precision: artifact.precision,
                                    cases: model.golden.map(\.name), checks: checks)
        if let dir = writeTo { try report.json(bundle: bundle, manifestSha256: manifestSha256).write(to: dir.appendingPathComponent("results.json")) }
        return report
    }

    private static func threshold(_ artifact: ArtifactInfo, _ o: TensorInfo) throws -> Threshold {
        guard let t = artifact.thresholds[o.name] else {
            throw MobileSDKError("the bundle has no threshold for `\(o.name)` at \(artifact.precision). Fix: regenerate the bindings")
        }
        return t
    }

    struct Stats { let sqnrDb: Double, maxAbs: Double, agreement: Double?, decisions: Int }

    /// mobilesdk.parity.compare: SQNR, max abs and decision agreement over the output's valid positions.
    static func compare(_ model: ModelInfo, _ o: TensorInfo, _ inputs: [String: Tensor], _ ref: Tensor, _ got: Tensor,
                        _ tieMargin: Double) throws -> Stats {
        if ref.shape != got.shape { throw MobileSDKError("output `\(o.name)` has shape \(got.shape), PyTorch gave \(ref.shape)") }
        let valid = try validPositions(model, o, inputs, ref.shape)
        let classes = o.metric == "sqnr" ? 1 : ref.shape.last!
        var (signal, noise, maxAbs, finite, decisions, agreeing) = (0.0, 0.0, 0.0, true, 0, 0)
        var idx = [Int](repeating: 0, count: ref.shape.count)
        for k in stride(from: 0, to: ref.count, by: classes) {
            var rest = k
            for i in stride(from: ref.shape.count - 1, through: 0, by: -1) { idx[i] = rest % ref.shape[i]; rest /= ref.shape[i] }
            if !valid(idx) { continue }
            var (refBest, gotBest) = (-Double.infinity, 0)
            for c in 0..<classes {
                let (r, g) = (Double(ref.float(k + c)), Double(got.float(k + c)))
                if !g.isFinite { finite = false }
                signal += r * r
                noise += (r - g) * (r - g)
                maxAbs = max(maxAbs, abs(r - g))
                refBest = max(refBest, r)
                if g > Double(got.float(k + gotBest)) { gotBest = c }
            }
            if o.metric != "sqnr" {
                decisions += 1
                if Double(ref.float(k + gotBest)) >= refBest - tieMargin * max(1, abs(refBest)) { agreeing += 1 }
            }
        }
        if !finite { return Stats(sqnrDb: -sqnrCapDb, maxAbs: .nan, agreement: decisions > 0 ? 0 : nil, decisions: decisions) }
        let sqnr = noise == 0 ? sqnrCapDb : signal == 0 ? -sqnrCapDb : min(sqnrCapDb, 10 * log10(signal / noise))
        let agreement: Double? = o.metric == "sqnr" ? nil : decisions == 0 ? 1 : Double(agreeing) / Double(decisions)
        return Stats(sqnrDb: sqnr, maxAbs: maxAbs, agreement: agreement, decisions: decisions)
    }

    /// Whether an element's multi-index lies at a valid position (mobilesdk.parity.valid_selector).
    static func validPositions(_ model: ModelInfo, _ o: TensorInfo, _ inputs: [String: Tensor], _ shape: [Int]) throws -> ([Int]) -> Bool {
        if o.positionAxis < 0 { return { _ in true } }
        let full = try model.lengths(inputs)
        let dim = o.shape[o.positionAxis].dim
        let derived = model.derived(dim)
        let source = derived?.source ?? dim
        let mask = model.masks.first { $0.value == source }?.key
        let perRow = (0..<shape[0]).map { row -> Int in
            let n = mask.map { validCount(model, $0, inputs[$0]!, row) } ?? full[source] ?? 0
            return min(derived?.length(n) ?? n, shape[o.positionAxis])
        }
        return { idx in idx[o.positionAxis] < perRow[idx[0]] }
    }

    /// How many positions along the masked axis have a non-zero mask value in `row`.
    static func validCount(_ model: ModelInfo, _ name: String, _ mask: Tensor, _ row: Int) -> Int {
        let axis = model.inputs.first { $0.name == name }!.shape.firstIndex { $0.dim == model.masks[name] }!
        var valid = [Bool](repeating: false, count: mask.shape[axis])
        var idx = [Int](repeating: 0, count: mask.shape.count)
        for k in 0..<mask.count {
            var rest = k
            for i in stride(from: mask.shape.count - 1, through: 0, by: -1) { idx[i] = rest % mask.shape[i]; rest /= mask.shape[i] }
            if idx[0] == row && mask.float(k) != 0 { valid[idx[axis]] = true }
        }
        return valid.filter { $0 }.count
    }
}
