// ExecuTorch's Android runtime (org.pytorch:executorch-android) behind the Engine interface:
// Module.load of the .pte, forward() on the inputs in spec order, outputs by position.
package mobilesdk

import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module

class ExecuTorchEngine(private val assets: AndroidAssets) : Engine {
    private val modules = HashMap<String, Module>()

    override fun open(file: String) = assets.open(file)

    override fun run(file: String, signature: String?, inputs: List<Pair<String, Tensor>>, outputs: List<String>): Map<String, Tensor> {
        val module = modules.getOrPut(file) { Module.load(assets.file(file).path) }
        val result = module.forward(*inputs.map { (_, t) -> EValue.from(toExecuTorch(t)) }.toTypedArray())
        if (result.size != outputs.size) throw MobileSdkException("$file gave ${result.size} outputs, the bundle lists ${outputs.size}. " +
            "Fix: rebuild the bundle")
        return outputs.zip(result.toList()) { name, v -> name to fromExecuTorch(v.toTensor()) }.toMap()
    }

    override fun close() {
        modules.values.forEach { it.destroy() }
        modules.clear()
    }

    private fun toExecuTorch(t: Tensor): org.pytorch.executorch.Tensor {
        val shape = LongArray(t.shape.size) { t.shape[it].toLong() }
        return when (t.dtype) {
            DType.FLOAT32 -> org.pytorch.executorch.Tensor.fromBlob(t.floats, shape)
            DType.INT32 -> org.pytorch.executorch.Tensor.fromBlob(IntArray(t.size) { t.longs[it].toInt() }, shape)
            DType.INT64 -> org.pytorch.executorch.Tensor.fromBlob(t.longs, shape)
        }
    }

    private fun fromExecuTorch(t: org.pytorch.executorch.Tensor): Tensor {
        val shape = t.shape().map { it.toInt() }.toIntArray()
        return when (t.dtype()) {
            org.pytorch.executorch.DType.FLOAT -> Tensor.floats(shape, t.dataAsFloatArray)
            org.pytorch.executorch.DType.INT32 -> t.dataAsIntArray.let { a -> Tensor.ints(DType.INT32, shape, LongArray(a.size) { a[it].toLong() }) }
            org.pytorch.executorch.DType.INT64 -> Tensor.ints(DType.INT64, shape, t.dataAsLongArray)
            else -> throw MobileSdkException("an ExecuTorch output of dtype ${t.dtype()} is not one the bindings read. Fix: return float32 or integer outputs")
        }
    }
}
