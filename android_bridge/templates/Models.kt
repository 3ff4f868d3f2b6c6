// The model classes apps call. Which class a model gets follows from its spec, never its name (as
// `mobilesdk run` decides): a tokenizer makes a TextClassifier, a CTC head an Aligner, an output
// shaped like the audio input an Enhancer, anything else a GenericModel with tensors by name.
package mobilesdk

/** Any model of the bundle: spec-shaped tensors in and out by name, checked against the spec. */
open class GenericModel(val info: ModelInfo, val artifact: ArtifactInfo, protected val engine: Engine) : AutoCloseable {
    private val runner = ArtifactRunner.of(info, artifact, engine)

    fun run(inputs: Map<String, Tensor>): Map<String, Tensor> {
        for (t in info.inputs) {
            val x = inputs[t.name] ?: continue
            if (x.dtype == DType.FLOAT32 && t.dtype != DType.FLOAT32) throw MobileSdkException("input `${t.name}` holds floats; " +
                "model `${info.name}` takes ${t.dtype.name.lowercase()}. Fix: pass integer values")
        }
        return runner.run(inputs)
    }

    /** One row of `length` positions: the tokens or audio input holds `data` right-padded with zeros,
     *  masks are 1 over `data`, each category input takes its value from `categories`, other inputs are zeros. */
    protected fun oneRow(length: Int, data: Tensor, categories: Map<String, Int>): Map<String, Tensor> {
        val wanted = info.inputs.filter { it.kind == "category" }
        for (name in categories.keys) if (wanted.none { it.name == name }) {
            throw MobileSdkException("model `${info.name}` takes no category input `$name`. Fix: use one of " +
                wanted.joinToString { it.name }.ifEmpty { "(none)" })
        }
        for (t in wanted) {
            val v = categories[t.name] ?: throw MobileSdkException("model `${info.name}` needs input `${t.name}`. " +
                "Fix: pass ${t.name} = one of ${t.low}..${t.high - 1}" + if (t.labels.isEmpty()) "" else " (category(\"${t.name}\", label) for ${t.labels.joinToString()})")
            if (v !in t.low until t.high) throw MobileSdkException("input `${t.name}` = $v is outside ${t.low}..${t.high - 1}. Fix: pass a value in that range")
        }
        return info.inputs.associate { t ->
            val shape = t.shape.map { if (it.dim == "batch") 1 else if (it.isStatic) it.size else length }.toIntArray()
            val n = shape.fold(1) { a, b -> a * b }
            val value = { k: Int ->
                val pos = k % length.coerceAtLeast(1)  // the length axis is the last: every leading row gets `data`
                when (t.kind) {
                    "tokens", "audio" -> if (pos < data.size) data.float(pos).toDouble() else 0.0
                    "mask" -> if (pos < data.size) 1.0 else 0.0
                    "category" -> (categories[t.name] ?: 0).toDouble()
                    else -> 0.0
                }
            }
            t.name to if (t.dtype == DType.FLOAT32) Tensor.floats(shape, FloatArray(n) { value(it).toFloat() })
            else Tensor.ints(t.dtype, shape, LongArray(n) { value(it).toLong() })
        }
    }

    /** The value of a category input for one of its labels (e.g. lang_id for "en"). */
    fun category(input: String, label: String): Int {
        val t = info.inputs.firstOrNull { it.name == input && it.kind == "category" }
            ?: throw MobileSdkException("model `${info.name}` has no category input `$input`")
        val i = t.labels.indexOf(label)
        if (i < 0) throw MobileSdkException("`$label` is not a value of `$input`. Fix: use one of ${t.labels.joinToString().ifEmpty { "${t.low}..${t.high - 1}" }}")
        return t.low + i
    }

    override fun close() = engine.close()
}

class TextResult(
    val tokens: Int,
    /** The text had more tokens than the model takes: the tail was not read. */
    val truncated: Boolean,
    /** Per classification output, label -> probability. */
    val classes: Map<String, Map<String, Double>>,
    /** Per token-level language output, the language spans of the text. */
    val spans: Map<String, List<Span>>,
)

class TextClassifier(info: ModelInfo, artifact: ArtifactInfo, engine: Engine) : GenericModel(info, artifact, engine) {
    val tokenizer = WordPieceTokenizer(info.tokenizer ?: throw MobileSdkException("model `${info.name}` has no tokenizer. " +
        "Fix: build it with `tokenizer` and `sentences` in its [models] table"), engine.open(info.vocab))

    fun classify(text: String): TextResult {
        if (text.isBlank()) throw MobileSdkException("the text is empty. Fix: pass the text to classify")
        val enc = tokenizer.encode(text)
        val ids = Tensor.ints(DType.INT64, intArrayOf(enc.ids.size), LongArray(enc.ids.size) { enc.ids[it].toLong() })
        val out = run(oneRow(enc.ids.size, ids, emptyMap()))
        val classes = LinkedHashMap<String, Map<String, Double>>()
        val spans = LinkedHashMap<String, List<Span>>()
        for (o in info.outputs) {
            if (o.labels.isEmpty()) continue
            val y = out.getValue(o.name)
            val width = y.shape.last()
            val rows = (0 until y.size / width).map { r -> Spans.softmax(DoubleArray(width) { y.float(r * width + it).toDouble() }) }
            if (o.metric == "lid") spans[o.name] = Spans.spans(text, enc.offsets, rows, o.labels)
            else if (o.positionAxis < 0) classes[o.name] = o.labels.zip(rows[0].toList()).toMap()
        }
        return TextResult(enc.ids.size, enc.truncated, classes, spans)
    }
}

class Recognition(
    /** Greedy decoding of the CTC head: the phonemes heard. */
    val phonemes: List<String>,
    /** Forced alignment of the phonemes asked for (empty when none were). */
    val segments: List<Segment>,
) {
    /** Mean segment score of the forced alignment (0 is certain), or null without one. */
    val score: Double? get() = if (segments.isEmpty()) null else segments.map { it.score }.average()
}

open class AudioModel(info: ModelInfo, artifact: ArtifactInfo, engine: Engine) : GenericModel(info, artifact, engine) {
    val audio: TensorInfo = info.input("audio") ?: throw MobileSdkException("model `${info.name}` takes no audio input")
    val samples: Dim = info.dim(audio.shape.last().dim) ?: throw MobileSdkException("`${audio.name}` has no dynamic length")

    protected fun checkAudio(pcm: FloatArray) {
        if (pcm.size < samples.min) throw MobileSdkException("the audio has ${pcm.size} samples; model `${info.name}` needs at least " +
            "${samples.min} (${samples.min / SAMPLE_RATE.toDouble()} s). Fix: pass longer audio")
    }

    companion object {
        const val SAMPLE_RATE = 16000
    }
}

class Aligner(info: ModelInfo, artifact: ArtifactInfo, engine: Engine) : AudioModel(info, artifact, engine) {
    val head: TensorInfo = info.outputs.firstOrNull { it.ctcBlank >= 0 } ?: throw MobileSdkException("model `${info.name}` has no CTC head")
    val labels: List<String> = head.labels.ifEmpty { (0 until head.shape.last().size).map { it.toString() } }
    val timing: FrameTiming = info.derived(head.shape[1].dim)?.let { FrameTiming(it.stride, it.receptiveField, SAMPLE_RATE) }
        ?: throw MobileSdkException("`${head.name}` runs over `${head.shape[1]}`, not a frame axis derived from the audio")

    /** The greedy phonemes of 16 kHz mono `pcm`, and with `phonemes` (symbols of `labels`) their forced alignment. */
    fun recognise(pcm: FloatArray, phonemes: List<String>? = null, categories: Map<String, Int> = emptyMap()): Recognition {
        checkAudio(pcm)
        if (pcm.size > samples.max) throw MobileSdkException("the audio is ${pcm.size / SAMPLE_RATE.toDouble()} s; model `${info.name}` " +
            "takes at most ${samples.max / SAMPLE_RATE.toDouble()} s. Fix: cut it")
        val wanted = phonemes?.map { p ->
            val id = labels.indexOf(p)
            if (id < 0 || id == head.ctcBlank) throw MobileSdkException("phoneme `$p` is not one model `${info.name}` knows. Fix: use " +
                labels.filterIndexed { i, _ -> i != head.ctcBlank }.joinToString(" "))
            id
        }
        val padded = (pcm.size + samples.multipleOf - 1) / samples.multipleOf * samples.multipleOf
        val out = run(oneRow(padded, Tensor.floats(intArrayOf(pcm.size), pcm), categories)).getValue(head.name)
        val classes = out.shape.last()
        val frames = timing.frames(pcm.size)
        val logProbs = Ctc.logSoftmax((0 until frames).map { t -> DoubleArray(classes) { out.float(t * classes + it).toDouble() } })
        val greedy = Ctc.greedy(logProbs, head.ctcBlank).map { labels[it] }
        if (wanted == null) return Recognition(greedy, emptyList())
        if (wanted.isEmpty()) throw MobileSdkException("no phonemes to align. Fix: pass the phonemes of what is said")
        return Recognition(greedy, Ctc.align(logProbs, wanted, timing, head.ctcBlank, labels))
    }
}

class Enhancer(info: ModelInfo, artifact: ArtifactInfo, engine: Engine) : AudioModel(info, artifact, engine) {
    val output: TensorInfo = info.outputs.first { o -> o.shape.map { it.toString() } == audio.shape.map { it.toString() } }

    /** The longest chunk the artifact takes, and how much neighbouring chunks cross-fade (as `mobilesdk run`). */
    val window: Int get() = samples.max - samples.max % samples.multipleOf
    val overlap: Int get() = window / 8

    /** 16 kHz mono `pcm` of any length enhanced, in overlap-added chunks of `window` samples. */
    fun enhance(pcm: FloatArray, categories: Map<String, Int> = emptyMap()): FloatArray {
        checkAudio(pcm)
        return Chunks.overlapAdd(pcm, window, overlap) { chunk ->
            val y = run(oneRow(window, Tensor.floats(intArrayOf(window), chunk), categories)).getValue(output.name)
            FloatArray(y.size) { y.float(it) }
        }
    }
}
