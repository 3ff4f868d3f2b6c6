// The golden self-test: replay the bundle's golden cases through one artifact on this device's
// runtime and judge each output against the manifest's thresholds, as `mobilesdk build` judged
// it against PyTorch (valid positions only; worst SQNR over the cases, agreement pooled over all
// decisions). One call for an app's instrumentation test. It writes what it got, as .npz per case
// and results.json, for `mobilesdk` to read back.
package mobilesdk

import java.io.File
import kotlin.math.abs
import kotlin.math.log10
import kotlin.math.max

class OutputCheck(
    val output: String,
    val sqnrDb: Double,
    /** Share of top-1 / frame / LID decisions that match PyTorch's, or null for SQNR-only outputs. */
    val agreement: Double?,
    val maxAbs: Double,
    val minSqnrDb: Double,
    val minAgreement: Double,
) {
    val passed: Boolean get() = sqnrDb >= minSqnrDb && (agreement == null || agreement >= minAgreement)
}

class SelfTestReport(val model: String, val format: String, val precision: String, val cases: List<String>, val checks: List<OutputCheck>) {
    val passed: Boolean get() = checks.all { it.passed }

    fun render(): String = (listOf("$model $format/$precision on ${cases.size} golden case(s): ${if (passed) "pass" else "FAIL"}") +
        checks.map { c ->
            "  ${c.output}: SQNR ${"%.1f".format(c.sqnrDb)} dB (min ${c.minSqnrDb})" +
                (c.agreement?.let { ", agreement ${"%.4f".format(it)} (min ${c.minAgreement})" } ?: "") +
                ", max abs ${"%.3g".format(c.maxAbs)}" + if (c.passed) "" else "  FAIL"
        }).joinToString("\n")

    fun toJson(bundle: String, manifestSha256: String): String {
        fun num(x: Double?) = if (x == null || !x.isFinite()) "null" else x.toString()
        fun str(s: String) = "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\""
        val rows = checks.joinToString(",\n    ") { c ->
            "{\"output\": ${str(c.output)}, \"sqnr_db\": ${num(c.sqnrDb)}, \"agreement\": ${num(c.agreement)}, " +
                "\"max_abs\": ${num(c.maxAbs)}, \"min_sqnr_db\": ${num(c.minSqnrDb)}, \"min_agreement\": ${num(c.minAgreement)}, " +
                "\"passed\": ${c.passed}}"
        }
        return "{\n  \"bundle\": ${str(bundle)},\n  \"manifest_sha256\": ${str(manifestSha256)},\n  \"model\": ${str(model)},\n" +
            "  \"format\": ${str(format)},\n  \"precision\": ${str(precision)},\n  \"cases\": [${cases.joinToString(", ") { str(it) }}],\n" +
            "  \"outputs\": [\n    $rows\n  ],\n  \"passed\": $passed\n}\n"
    }
}

object SelfTest {
    private const val SQNR_CAP_DB = 200.0

    /** Every golden case of `model` through `artifact` on `engine`; with `writeTo`, the outputs it got
     *  as <case>.npz (`output.<name>` arrays) and the report as results.json in that directory. */
    fun run(model: ModelInfo, artifact: ArtifactInfo, engine: Engine, bundle: String = "", manifestSha256: String = "",
            writeTo: File? = null): SelfTestReport {
        val runner = ArtifactRunner.of(model, artifact, engine)
        val perOutput = model.outputs.associate { it.name to ArrayList<Stats>() }
        for (case in model.golden) {
            val arrays = engine.open(case.path).use { Npy.readNpz(it) }
            val inputs = model.inputs.associate { t -> t.name to (arrays["input.${t.name}"]
                ?: throw MobileSdkException("golden case ${case.path} has no input `${t.name}`. Fix: rebuild the bundle")) }
            val got = runner.run(inputs)
            for (o in model.outputs) {
                val ref = arrays["output.${o.name}"] ?: throw MobileSdkException("golden case ${case.path} has no output `${o.name}`")
                val tie = threshold(artifact, o).tieMargin
                perOutput.getValue(o.name).add(compare(model, o, inputs, ref, got.getValue(o.name), tie))
            }
            writeTo?.let { dir ->
                dir.mkdirs()
                File(dir, "${case.name}.npz").outputStream().use { Npy.writeNpz(got.mapKeys { "output.${it.key}" }, it) }
            }
        }
        val checks = model.outputs.map { o ->
            val s = perOutput.getValue(o.name)
            val judged = s.filter { it.agreement != null }
            val decisions = judged.sumOf { it.decisions }
            val pooled = if (judged.isEmpty()) null else if (decisions > 0) judged.sumOf { it.agreement!! * it.decisions } / decisions
                else judged.minOf { it.agreement!! }
            val t = threshold(artifact, o)
            OutputCheck(o.name, s.minOf { it.sqnrDb }, pooled, s.maxOf { it.maxAbs }, t.sqnrDb, t.agreement)
        }
        val report = SelfTestReport(model.name, artifact.format, artifact.precision, model.golden.map { it.name }, checks)
        writeTo?.let { File(it, "results.json").writeText(report.toJson(bundle, manifestSha256)) }
        return report
    }

    private fun threshold(artifact: ArtifactInfo, o: TensorInfo): Threshold = artifact.thresholds[o.name]
        ?: throw MobileSdkException("the bundle has no threshold for `${o.name}` at ${artifact.precision}. Fix: regenerate the bindings")

    private class Stats(val sqnrDb: Double, val maxAbs: Double, val agreement: Double?, val decisions: Int)

    /** mobilesdk.parity.compare: SQNR, max abs and decision agreement over the output's valid positions. */
    private fun compare(model: ModelInfo, o: TensorInfo, inputs: Map<String, Tensor>, ref: Tensor, got: Tensor, tieMargin: Double): Stats {
        if (!ref.shape.contentEquals(got.shape)) throw MobileSdkException("output `${o.name}` has shape ${got.shape.toList()}, " +
            "PyTorch gave ${ref.shape.toList()}")
        val valid = validPositions(model, o, inputs, ref.shape)
        val classes = if (o.metric == "sqnr") 1 else ref.shape.last()
        var signal = 0.0
        var noise = 0.0
        var maxAbs = 0.0
        var finite = true
        var decisions = 0
        var agreeing = 0
        val idx = IntArray(ref.shape.size)
        for (k in 0 until ref.size step classes) {
            var rest = k
            for (i in ref.shape.indices.reversed()) { idx[i] = rest % ref.shape[i]; rest /= ref.shape[i] }
            if (!valid(idx)) continue
            var refBest = Double.NEGATIVE_INFINITY
            var gotBest = 0
            for (c in 0 until classes) {
                val r = ref.float(k + c).toDouble()
                val g = got.float(k + c).toDouble()
                if (!g.isFinite()) finite = false
                signal += r * r
                noise += (r - g) * (r - g)
                maxAbs = max(maxAbs, abs(r - g))
                refBest = max(refBest, r)
                if (g > got.float(k + gotBest).toDouble()) gotBest = c
            }
            if (o.metric != "sqnr") {
                decisions++
                val tie = tieMargin * max(1.0, abs(refBest))
                if (ref.float(k + gotBest).toDouble() >= refBest - tie) agreeing++
            }
        }
        if (!finite) return Stats(-SQNR_CAP_DB, Double.NaN, if (decisions > 0) 0.0 else null, decisions)
        val sqnr = when { noise == 0.0 -> SQNR_CAP_DB; signal == 0.0 -> -SQNR_CAP_DB; else -> minOf(SQNR_CAP_DB, 10 * log10(signal / noise)) }
        val agreement = if (o.metric == "sqnr") null else if (decisions == 0) 1.0 else agreeing.toDouble() / decisions
        return Stats(sqnr, maxAbs, agreement, decisions)
    }

    /** Whether an element's multi-index lies at a valid position (mobilesdk.parity.valid_selector). */
    private fun validPositions(model: ModelInfo, o: TensorInfo, inputs: Map<String, Tensor>, shape: IntArray): (IntArray) -> Boolean {
        if (o.positionAxis < 0) return { true }
        val full = model.lengths(inputs)
        val dim = o.shape[o.positionAxis].dim
        val derived = model.derived(dim)
        val source = derived?.source ?: dim
        val maskInput = model.masks.entries.firstOrNull { it.value == source }?.key
        val perRow = IntArray(shape[0]) { row ->
            val n = maskInput?.let { validCount(model, it, inputs.getValue(it), row) } ?: full.getValue(source)
            minOf(derived?.length(n) ?: n, shape[o.positionAxis])
        }
        return { idx -> idx[o.positionAxis] < perRow[idx[0]] }
    }

    /** How many positions along the masked axis have a non-zero mask value in `row`. */
    private fun validCount(model: ModelInfo, name: String, mask: Tensor, row: Int): Int {
        val axis = model.inputs.first { it.name == name }.shape.indexOfFirst { it.dim == model.masks[name] }
        val idx = IntArray(mask.shape.size)
        val valid = BooleanArray(mask.shape[axis])
        for (k in 0 until mask.size) {
            var rest = k
            for (i in mask.shape.indices.reversed()) { idx[i] = rest % mask.shape[i]; rest /= mask.shape[i] }
            if (idx[0] == row && mask.float(k) != 0f) valid[idx[axis]] = true
        }
        return valid.count { it }
    }
}
