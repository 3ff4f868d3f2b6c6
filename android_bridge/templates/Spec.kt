// What the generated bundle file (Bundle.kt) says about each model, from manifest.json and the
// spec it lists: tensors with dtypes and named axes, dims and their ranges, masks, artifacts with
// their thresholds, golden cases. The model classes and the self-test read only this.
package mobilesdk

/** One axis of a tensor: a static size, or a named dim ("batch", "samples", "frames", ...). */
class Axis private constructor(val size: Int, val dim: String) {
    val isStatic: Boolean get() = dim.isEmpty()
    override fun toString(): String = if (isStatic) size.toString() else dim

    companion object {
        fun of(size: Int) = Axis(size, "")
        fun of(dim: String) = Axis(-1, dim)
    }
}

class Dim(val name: String, val min: Int, val max: Int, val multipleOf: Int) {
    fun check(n: Int): Boolean = n in min..max && n % multipleOf == 0
}

/** An output axis computed from an input axis by a stack of (kernel, stride) convolutions. */
class DerivedDim(val name: String, val source: String, val convStack: List<IntArray>) {
    val stride: Int get() = convStack.fold(1) { s, (_, st) -> s * st }
    val receptiveField: Int get() {
        var rf = 1
        var jump = 1
        for ((k, st) in convStack) { rf += (k - 1) * jump; jump *= st }
        return rf
    }

    fun length(n: Int): Int = convStack.fold(n) { len, (k, st) -> if (len >= k) (len - k) / st + 1 else 0 }
}

class TensorInfo(
    val name: String,
    val dtype: DType,
    val shape: List<Axis>,
    /** Inputs: "audio", "tokens", "mask", "category" or "". */
    val kind: String = "",
    val low: Int = 0,
    val high: Int = 0,
    /** Class names along an output's last axis, or a category input's values low, low + 1, ... */
    val labels: List<String> = emptyList(),
    /** Outputs: "sqnr", "top1", "frame_argmax" or "lid". */
    val metric: String = "sqnr",
    /** Outputs: the axis that runs over positions, or -1. */
    val positionAxis: Int = -1,
    /** CTC heads: the blank class, or -1. */
    val ctcBlank: Int = -1,
)

class Threshold(val sqnrDb: Double, val agreement: Double, val tieMargin: Double)

class ArtifactInfo(
    val format: String,
    val precision: String,
    /** Files relative to the bundle root; the first is the main one. */
    val files: List<String>,
    /** The converter's notes from the manifest (TFLite: buckets, signatures, layouts). */
    val meta: Map<String, String>,
    /** Per output, the parity threshold at this precision. */
    val thresholds: Map<String, Threshold>,
    val passed: Boolean,
)

class GoldenInfo(val name: String, val path: String)

class ModelInfo(
    val name: String,
    val inputs: List<TensorInfo>,
    val outputs: List<TensorInfo>,
    val dims: List<Dim>,
    val derivedDims: List<DerivedDim>,
    /** Mask input -> the dim it masks. */
    val masks: Map<String, String>,
    val golden: List<GoldenInfo>,
    val artifacts: List<ArtifactInfo>,
    val tokenizer: TokenizerConfig? = null,
    /** Bundle path of the tokenizer's vocab.txt, for text models. */
    val vocab: String = "",
) {
    fun dim(name: String): Dim? = dims.firstOrNull { it.name == name }
    fun derived(name: String): DerivedDim? = derivedDims.firstOrNull { it.name == name }
    fun input(kind: String): TensorInfo? = inputs.firstOrNull { it.kind == kind }
    fun output(name: String): TensorInfo = outputs.first { it.name == name }

    /** The artifact of this format and precision; a typed error listing the others when absent. */
    fun artifact(format: String, precision: String): ArtifactInfo =
        artifacts.firstOrNull { it.format == format && it.precision == precision }
            ?: throw MobileSdkException("model `$name` has no artifact $format/$precision in this bundle. " +
                "Fix: pick one of ${artifacts.joinToString(", ") { "${it.format}/${it.precision}" }}")

    /** An output's concrete shape for inputs with these dim lengths (derived dims computed). */
    fun outputShape(output: TensorInfo, lengths: Map<String, Int>): IntArray = output.shape.map { ax ->
        when {
            ax.isStatic -> ax.size
            derived(ax.dim) != null -> derived(ax.dim)!!.let { it.length(lengths.getValue(it.source)) }
            else -> lengths.getValue(ax.dim)
        }
    }.toIntArray()

    /** Every named dim's length in these inputs (checked against the spec: a typed error names the fix). */
    fun lengths(inputs: Map<String, Tensor>): Map<String, Int> {
        val out = LinkedHashMap<String, Int>()
        for (t in this.inputs) {
            val x = inputs[t.name] ?: throw MobileSdkException("model `$name` needs input `${t.name}`. " +
                "Fix: pass ${this.inputs.joinToString(", ") { it.name }}")
            if (x.shape.size != t.shape.size) throw MobileSdkException("input `${t.name}` has shape ${x.shape.toList()}; " +
                "model `$name` takes ${t.shape}. Fix: pass a tensor of rank ${t.shape.size}")
            for ((axis, ax) in t.shape.withIndex()) {
                val n = x.shape[axis]
                if (ax.isStatic && n != ax.size || !ax.isStatic && out.getOrPut(ax.dim) { n } != n) {
                    throw MobileSdkException("input `${t.name}` has shape ${x.shape.toList()}; model `$name` takes ${t.shape} " +
                        "with one length per named axis. Fix: give it that shape")
                }
            }
        }
        for ((d, n) in out) {
            val dim = dim(d) ?: continue
            if (!dim.check(n)) throw MobileSdkException("`$d` is $n; model `$name` takes ${dim.min}..${dim.max}" +
                (if (dim.multipleOf > 1) ", a multiple of ${dim.multipleOf}" else "") + ". Fix: pad or cut the input to such a length")
        }
        return out
    }
}
