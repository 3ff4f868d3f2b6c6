// LiteRT's Android runtime (com.google.ai.edge.litert) behind the Engine interface: one
// Interpreter per .tflite file, runSignature with inputs and outputs by signature name.
package mobilesdk

import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter

class LiteRtEngine(private val assets: AndroidAssets) : Engine {
    private val interpreters = HashMap<String, Interpreter>()

    override fun open(file: String) = assets.open(file)

    override fun run(file: String, signature: String?, inputs: List<Pair<String, Tensor>>, outputs: List<String>): Map<String, Tensor> {
        val interpreter = interpreters.getOrPut(file) { Interpreter(assets.file(file)) }
        val key = signature ?: interpreter.signatureKeys.first()
        val feed = inputs.associate { (name, t) -> name to toBuffer(t, interpreter.getInputTensorFromSignature(name, key).dataType()) as Any }
        val tensors = outputs.associateWith { interpreter.getOutputTensorFromSignature(it, key) }
        val results = tensors.mapValues { (_, t) -> ByteBuffer.allocateDirect(t.numBytes()).order(ByteOrder.nativeOrder()) }
        interpreter.runSignature(feed, results.mapValues { it.value as Any }, key)
        return outputs.associateWith { name -> fromBuffer(results.getValue(name), tensors.getValue(name).shape(), tensors.getValue(name).dataType()) }
    }

    override fun close() {
        interpreters.values.forEach { it.close() }
        interpreters.clear()
    }

    private fun toBuffer(t: Tensor, type: DataType): ByteBuffer {
        val width = if (type == DataType.INT64) 8 else 4
        val buf = ByteBuffer.allocateDirect(t.size * width).order(ByteOrder.nativeOrder())
        for (i in 0 until t.size) when (type) {
            DataType.FLOAT32 -> buf.putFloat(t.float(i))
            DataType.INT32 -> buf.putInt(t.long(i).toInt())
            DataType.INT64 -> buf.putLong(t.long(i))
            else -> throw MobileSdkException("a TFLite input of type $type is not one the bindings feed. Fix: rebuild with float32 or integer inputs")
        }
        buf.rewind()
        return buf
    }

    private fun fromBuffer(buf: ByteBuffer, shape: IntArray, type: DataType): Tensor {
        buf.rewind()
        val n = shape.fold(1) { a, b -> a * b }
        return when (type) {
            DataType.FLOAT32 -> Tensor.floats(shape, FloatArray(n) { buf.getFloat() })
            DataType.INT32 -> Tensor.ints(DType.INT32, shape, LongArray(n) { buf.getInt().toLong() })
            DataType.INT64 -> Tensor.ints(DType.INT64, shape, LongArray(n) { buf.getLong() })
            else -> throw MobileSdkException("a TFLite output of type $type is not one the bindings read. Fix: return float32 or integer outputs")
        }
    }
}
