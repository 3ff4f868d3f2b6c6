// Test-only: drives the generated Kotlin on a plain JVM for tests/bridges. Each command reads
// files pytest wrote and prints (or writes) what the Kotlin computed, for pytest to compare with
// Python's own results. ProcessEngine runs artifacts in the real runtimes through device.py, a
// Python process that only executes the tensors it is given (executorch.runtime, ai_edge_litert).
package mobilesdk.harness

import java.io.BufferedReader
import java.io.File
import java.io.InputStream
import java.io.InputStreamReader
import java.io.OutputStreamWriter
import mobilesdk.*

fun main(args: Array<String>) {
    try {
        when (args[0]) {
            "tokenize" -> tokenize(args)
            "spans" -> spans(args)
            "align" -> align(args)
            "overlap" -> overlap(args)
            "classify", "recognise", "enhance", "selftest", "run" -> withModel(args)
            else -> error("unknown command ${args[0]}")
        }
    } catch (e: MobileSdkException) {
        println("MobileSdkException: ${e.message}")
        kotlin.system.exitProcess(3)
    }
}

fun texts(path: String): List<String> = File(path).readLines().map { line ->
    String(ByteArray(line.length / 2) { line.substring(2 * it, 2 * it + 2).toInt(16).toByte() }, Charsets.UTF_8)
}

fun info(bundleObject: String, model: String): ModelInfo {
    val obj = Class.forName("mobilesdk.$bundleObject").getDeclaredField("INSTANCE").get(null)
    @Suppress("UNCHECKED_CAST")
    val models = obj.javaClass.getMethod("getModels").invoke(obj) as Map<String, ModelInfo>
    return models.getValue(model)
}

/** tokenize OBJECT MODEL BUNDLE_DIR TEXTS OUT.npz: ids_i, offsets_i [n, 2] and truncated [texts]. */
fun tokenize(a: Array<String>) {
    val info = info(a[1], a[2])
    val tok = File(a[3], info.vocab).inputStream().use { WordPieceTokenizer(info.tokenizer!!, it) }
    val out = LinkedHashMap<String, Tensor>()
    val truncated = ArrayList<Long>()
    for ((i, text) in texts(a[4]).withIndex()) {
        val e = tok.encode(text)
        out["ids_$i"] = Tensor.ints(DType.INT32, intArrayOf(e.ids.size), LongArray(e.ids.size) { e.ids[it].toLong() })
        out["offsets_$i"] = Tensor.ints(DType.INT32, intArrayOf(e.ids.size, 2), LongArray(2 * e.ids.size) { e.offsets[it / 2][it % 2].toLong() })
        truncated.add(if (e.truncated) 1 else 0)
    }
    out["truncated"] = Tensor.ints(DType.INT32, intArrayOf(truncated.size), truncated.toLongArray())
    File(a[5]).outputStream().use { Npy.writeNpz(out, it) }
}

/** spans TEXTS IN.npz (offsets_i [n,2], probs_i [n,L], labels as text lines in LABELS) LABELS: one line of spans per text. */
fun spans(a: Array<String>) {
    val arrays = File(a[2]).inputStream().use { Npy.readNpz(it) }
    val labels = File(a[3]).readLines()
    for ((i, text) in texts(a[1]).withIndex()) {
        val off = arrays.getValue("offsets_$i")
        val p = arrays.getValue("probs_$i")
        val n = off.shape[0]
        val l = p.shape[1]
        val spans = Spans.spans(text, List(n) { intArrayOf(off.long(2 * it).toInt(), off.long(2 * it + 1).toInt()) },
            List(n) { r -> DoubleArray(l) { p.float(r * l + it).toDouble() } }, labels)
        println(spans.joinToString(";") { "${it.lang} ${it.start} ${it.end} ${it.confidence}" })
    }
}

/** align IN.npz (scores_i [T,C] float32, targets_i, blank, timing [stride, rf]) OUT.npz: segments_i [n,2], scores_i, greedy_i. */
fun align(a: Array<String>) {
    val arrays = File(a[1]).inputStream().use { Npy.readNpz(it) }
    val blank = arrays.getValue("blank").long(0).toInt()
    val t = arrays.getValue("timing")
    val timing = FrameTiming(t.long(0).toInt(), t.long(1).toInt(), 16000)
    val out = LinkedHashMap<String, Tensor>()
    var i = 0
    while ("scores_$i" in arrays) {
        val s = arrays.getValue("scores_$i")
        val (frames, classes) = s.shape
        val lp = Ctc.logSoftmax(List(frames) { r -> DoubleArray(classes) { s.float(r * classes + it).toDouble() } })
        val targets = arrays.getValue("targets_$i").let { x -> List(x.size) { x.long(it).toInt() } }
        val greedy = Ctc.greedy(lp, blank)
        out["greedy_$i"] = Tensor.ints(DType.INT32, intArrayOf(greedy.size), LongArray(greedy.size) { greedy[it].toLong() })
        try {
            val segs = Ctc.align(lp, targets, timing, blank, emptyList())
            out["segments_$i"] = Tensor.ints(DType.INT32, intArrayOf(segs.size, 2), LongArray(2 * segs.size) {
                if (it % 2 == 0) segs[it / 2].startFrame.toLong() else segs[it / 2].endFrame.toLong() })
            out["scores_$i"] = Tensor.floats(intArrayOf(segs.size), FloatArray(segs.size) { segs[it].score.toFloat() })
            out["seconds_$i"] = Tensor.floats(intArrayOf(segs.size, 2), FloatArray(2 * segs.size) {
                (if (it % 2 == 0) segs[it / 2].startSeconds else segs[it / 2].endSeconds).toFloat() })
        } catch (e: AlignmentException) {
            out["error_$i"] = Tensor.ints(DType.INT32, intArrayOf(1), longArrayOf(1))
        }
        i++
    }
    File(a[2]).outputStream().use { Npy.writeNpz(out, it) }
}

/** overlap IN.npz (audio, window, overlap) OUT.npz: audio through a model that scales each chunk by 1 + its index. */
fun overlap(a: Array<String>) {
    val arrays = File(a[1]).inputStream().use { Npy.readNpz(it) }
    val x = arrays.getValue("audio")
    var calls = 0
    val y = Chunks.overlapAdd(FloatArray(x.size) { x.float(it) }, arrays.getValue("window").long(0).toInt(),
        arrays.getValue("overlap").long(0).toInt()) { chunk -> calls++; FloatArray(chunk.size) { chunk[it] * calls } }
    File(a[2]).outputStream().use { Npy.writeNpz(mapOf("audio" to Tensor.floats(intArrayOf(y.size), y)), it) }
}

/** A runtime on the other side of a pipe: device.py executes each request in the real runtime. */
class ProcessEngine(private val bundle: File, python: String, device: String, private val work: File) : Engine {
    private val process = ProcessBuilder(python, device).redirectError(ProcessBuilder.Redirect.INHERIT).start()
    private val toDevice = OutputStreamWriter(process.outputStream, Charsets.UTF_8)
    private val fromDevice = BufferedReader(InputStreamReader(process.inputStream, Charsets.UTF_8))
    private var calls = 0

    override fun open(file: String): InputStream = File(bundle, file).inputStream()

    override fun run(file: String, signature: String?, inputs: List<Pair<String, Tensor>>, outputs: List<String>): Map<String, Tensor> {
        calls++
        val request = File(work, "in-$calls.npz")
        val response = File(work, "out-$calls.npz")
        request.outputStream().use { s -> Npy.writeNpz(inputs.withIndex().associate { (i, p) -> "${i}_${p.first}" to p.second }, s) }
        toDevice.write("${File(bundle, file)}\t${signature ?: "-"}\t$request\t$response\t${outputs.joinToString(",")}\n")
        toDevice.flush()
        val answer = fromDevice.readLine() ?: error("device.py ended")
        if (answer != "ok") throw MobileSdkException("the runtime failed: $answer")
        return response.inputStream().use { Npy.readNpz(it) }
    }

    override fun close() {
        toDevice.close()
        process.waitFor()
    }
}

fun json(s: String) = "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\""

/** COMMAND OBJECT MODEL FORMAT PRECISION BUNDLE PYTHON DEVICE WORK ...: one model on one artifact through ProcessEngine. */
fun withModel(a: Array<String>) {
    val info = info(a[1], a[2])
    val artifact = info.artifact(a[3], a[4])  // a typed error for an artifact the bundle lacks, before any runtime starts
    ProcessEngine(File(a[5]), a[6], a[7], File(a[8])).use { engine ->
        when (a[0]) {
            "classify" -> {
                val clf = TextClassifier(info, artifact, engine)
                for (text in texts(a[9])) {
                    val r = clf.classify(text)
                    val classes = r.classes.entries.joinToString(", ") { (o, p) ->
                        "${json(o)}: {" + p.entries.joinToString(", ") { (k, v) -> "${json(k)}: $v" } + "}" }
                    val spans = r.spans.entries.joinToString(", ") { (o, s) -> "${json(o)}: [" + s.joinToString(", ") {
                        "{\"lang\": ${json(it.lang)}, \"start\": ${it.start}, \"end\": ${it.end}, \"confidence\": ${it.confidence}, \"text\": ${json(it.text(text))}}" } + "]" }
                    println("{\"tokens\": ${r.tokens}, \"truncated\": ${r.truncated}, \"classes\": {$classes}, \"spans\": {$spans}}")
                }
            }
            "recognise" -> {
                val pcm = File(a[9]).inputStream().use { Npy.readNpz(it) }.getValue("audio").let { x -> FloatArray(x.size) { x.float(it) } }
                val phonemes = a.getOrNull(10)?.split(" ")?.filter { it.isNotEmpty() }
                val r = Aligner(info, artifact, engine).recognise(pcm, phonemes, a.getOrNull(11)?.let { mapOf("lang_id" to it.toInt()) } ?: emptyMap())
                val segs = r.segments.joinToString(", ") { "[${json(it.label)}, ${it.startSeconds}, ${it.endSeconds}, ${it.score}]" }
                println("{\"phonemes\": [${r.phonemes.joinToString(", ") { json(it) }}], \"segments\": [$segs]}")
            }
            "enhance" -> {
                val pcm = File(a[9]).inputStream().use { Npy.readNpz(it) }.getValue("audio").let { x -> FloatArray(x.size) { x.float(it) } }
                val y = Enhancer(info, artifact, engine).enhance(pcm)
                File(a[10]).outputStream().use { Npy.writeNpz(mapOf("audio" to Tensor.floats(intArrayOf(y.size), y)), it) }
            }
            "run" -> {
                val inputs = File(a[9]).inputStream().use { Npy.readNpz(it) }
                val y = GenericModel(info, artifact, engine).run(inputs)
                File(a[10]).outputStream().use { Npy.writeNpz(y, it) }
            }
            "selftest" -> {  // through the generated object, which stamps the bundle's name and manifest digest
                val obj = Class.forName("mobilesdk.${a[1]}").getDeclaredField("INSTANCE").get(null)
                val run = obj.javaClass.getMethod("selfTest", String::class.java, String::class.java, String::class.java,
                    Engine::class.java, File::class.java)
                val report = try {
                    run.invoke(obj, a[2], a[3], a[4], engine, File(a[9])) as SelfTestReport
                } catch (e: java.lang.reflect.InvocationTargetException) {
                    throw e.targetException
                }
                println(report.render())
            }
        }
    }
}
