// Running one artifact. The only call that needs a device runtime is `Engine.run`: one entry point
// of one artifact file on tensors exactly as that entry point takes them. Everything around it
// (checking inputs against the spec, TFLite's length buckets with right-padding, fixed batch,
// channels-last layouts and output cropping, as the manifest records them) is plain Kotlin here,
// so it runs and is tested on a plain JVM. ExecuTorchEngine and LiteRtEngine implement Engine on
// a device.
package mobilesdk

interface Engine : AutoCloseable {
    /** A bundle file (vocab, golden case) by its bundle path: from the app's assets on a device. */
    fun open(file: String): java.io.InputStream

    /**
     * Run `file` (a bundle path) on `inputs`, in the order the entry point takes them.
     * `signature`: a TFLite signature key, or null for ExecuTorch's `forward`.
     * `outputs`: the names to give the results (ExecuTorch returns them by position).
     */
    fun run(file: String, signature: String?, inputs: List<Pair<String, Tensor>>, outputs: List<String>): Map<String, Tensor>

    override fun close() {}
}

/** Spec-shaped inputs in, spec-shaped outputs out, for one artifact. */
fun interface ArtifactRunner {
    fun run(inputs: Map<String, Tensor>): Map<String, Tensor>

    companion object {
        fun of(model: ModelInfo, artifact: ArtifactInfo, engine: Engine): ArtifactRunner = when (artifact.format) {
            "executorch" -> ArtifactRunner { inputs ->
                model.lengths(inputs)
                engine.run(artifact.files[0], null, model.inputs.map { it.name to inputs.getValue(it.name).cast(it.dtype) },
                    model.outputs.map { it.name })
            }
            "tflite" -> Buckets(model, artifact, engine)
            else -> throw MobileSdkException("`${artifact.format}` artifacts do not run on Android. " +
                "Fix: pick an executorch or tflite artifact of model `${model.name}`")
        }
    }
}

/** TFLite's static length buckets (converters/tflite/buckets.py): choose the smallest bucket that
 *  holds the input (masked dims right-padded, others exact), pad the batch to the file's fixed
 *  batch with zero rows, transpose to the file's layout, run the bucket's signature of the one
 *  file, transpose back and crop. */
class Buckets(private val model: ModelInfo, private val artifact: ArtifactInfo, private val engine: Engine) : ArtifactRunner {
    private val meta = artifact.meta
    val dims: List<String> = list(meta["bucket_dims"])
    private val padded = list(meta["padded_dims"]).toSet()
    val buckets: List<IntArray> = list(meta["buckets"]).map { b -> if (b == "static") IntArray(0) else b.split("x").map(String::toInt).toIntArray() }
    private val signatures = list(meta["signatures"])
    private val batch = meta["batch"]?.toInt() ?: 1
    private val inPerm = layout("in")
    private val outPerm = layout("out")

    init {
        if (signatures.size != buckets.size || artifact.files.size != 1) throw MobileSdkException("the manifest lists ${buckets.size} " +
            "buckets and ${signatures.size} signatures in ${artifact.files.size} files of ${model.name} ${artifact.precision} (one file, " +
            "a signature per bucket). Fix: rebuild the bundle")
    }

    /** The bucket these dim lengths run in; a typed error when none holds them. */
    fun choose(lengths: Map<String, Int>): Int {
        val fits = buckets.indices.filter { i ->
            dims.indices.all { k -> if (dims[k] in padded) buckets[i][k] >= lengths.getValue(dims[k]) else buckets[i][k] == lengths.getValue(dims[k]) }
        }
        return fits.minWithOrNull(compareBy<Int> { i -> buckets[i].fold(1L) { a, n -> a * maxOf(n, 1) } }
            .thenComparator { a, b -> compareLists(buckets[a], buckets[b]) })
            ?: throw MobileSdkException("no TFLite bucket of ${model.name} holds ${dims.joinToString { "$it=${lengths[it]}" }}; buckets: " +
                "${list(meta["buckets"]).joinToString()}. Fix: use one of those lengths" + if (padded.isEmpty()) "" else " or shorter")
    }

    override fun run(inputs: Map<String, Tensor>): Map<String, Tensor> {
        val lengths = model.lengths(inputs)
        val bucket = choose(lengths)
        val full = lengths + dims.zip(buckets[bucket].toList())
        val rows = model.inputs.firstOrNull { it.shape.firstOrNull()?.dim == "batch" }?.let { inputs.getValue(it.name).shape[0] } ?: 1
        val parts = model.outputs.associate { it.name to ArrayList<Tensor>() }
        for (start in 0 until rows step batch) {
            val feed = model.inputs.map { t ->
                var x = inputs.getValue(t.name).cast(t.dtype)
                val batched = t.shape.firstOrNull()?.dim == "batch"
                val shape = t.shape.map { ax -> if (ax.dim == "batch") batch else if (ax.isStatic) ax.size else full.getValue(ax.dim) }.toIntArray()
                if (batched) x = x.slice(start, minOf(start + batch, rows))
                x = x.fit(shape)
                t.name to (inPerm[t.name]?.let { x.permute(it) } ?: x)
            }
            val got = engine.run(artifact.files[0], signatures[bucket], feed, model.outputs.map { it.name })
            for (o in model.outputs) {
                val y = got[o.name] ?: throw MobileSdkException("${artifact.files[0]} gave no output `${o.name}`. Fix: rebuild the bundle")
                parts.getValue(o.name).add(outPerm[o.name]?.let { y.permute(it) } ?: y)
            }
        }
        return model.outputs.associate { o ->
            val batched = o.shape.firstOrNull()?.dim == "batch"
            val y = if (batched) Tensor.concat(parts.getValue(o.name)) else parts.getValue(o.name)[0]
            val shape = model.outputShape(o, lengths + ("batch" to rows))
            o.name to y.fit(shape)
        }
    }

    private fun layout(side: String): Map<String, IntArray> = list(meta["layout"], ";").mapNotNull { part ->
        val (key, perm) = part.split(":", limit = 2)
        val (kind, name) = key.split(".", limit = 2)
        if (kind == side) name to perm.split(",").map(String::toInt).toIntArray() else null
    }.toMap()

    private fun compareLists(a: IntArray, b: IntArray): Int {
        for (i in a.indices) if (a[i] != b[i]) return a[i].compareTo(b[i])
        return 0
    }

    private fun list(text: String?, sep: String = ","): List<String> = text.orEmpty().split(sep).filter { it.isNotEmpty() }
}
