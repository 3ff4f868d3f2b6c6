// A tensor as the bindings pass it around: a shape, a dtype and row-major values, plus .npy/.npz
// reading and writing (the bundle's golden cases are .npz; numpy's format, written by hand because
// no JVM library for it ships on Android).
package mobilesdk

import java.io.ByteArrayOutputStream
import java.io.InputStream
import java.io.OutputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.zip.ZipEntry
import java.util.zip.ZipInputStream
import java.util.zip.ZipOutputStream

enum class DType(val npy: String, val bytes: Int) {
    FLOAT32("<f4", 4), INT32("<i4", 4), INT64("<i8", 8);

    companion object {
        /** The manifest's dtype names (`float32`, `int32`, `int64`). */
        fun of(name: String): DType = when (name) {
            "float32" -> FLOAT32
            "int32" -> INT32
            "int64" -> INT64
            else -> throw MobileSdkException("dtype `$name` is not one the bindings handle. Fix: use float32, int32 or int64 tensors")
        }
    }
}

/** Row-major values: `floats` for FLOAT32, `longs` for the integer dtypes. */
class Tensor private constructor(val dtype: DType, val shape: IntArray, val floats: FloatArray, val longs: LongArray) {
    val size: Int get() = shape.fold(1) { a, b -> a * b }

    fun float(i: Int): Float = if (dtype == DType.FLOAT32) floats[i] else longs[i].toFloat()
    fun long(i: Int): Long = if (dtype == DType.FLOAT32) floats[i].toLong() else longs[i]

    /** The same values in another dtype (ints and floats convert as numpy's astype does). */
    fun cast(to: DType): Tensor = when {
        to == dtype -> this
        to == DType.FLOAT32 -> floats(shape, FloatArray(size) { float(it) })
        else -> ints(to, shape, LongArray(size) { long(it) })
    }

    /** Rows [from, to) of the first axis. */
    fun slice(from: Int, to: Int): Tensor {
        val row = if (shape.isEmpty()) 1 else size / maxOf(shape[0], 1)
        val s = shape.copyOf().also { it[0] = to - from }
        return if (dtype == DType.FLOAT32) floats(s, floats.copyOfRange(from * row, to * row))
        else ints(dtype, s, longs.copyOfRange(from * row, to * row))
    }

    /** Cropped or zero-padded at the end of each axis to `to` (numpy's x[:n, ...] then np.pad). */
    fun fit(to: IntArray): Tensor {
        if (to.size != shape.size) throw MobileSdkException("cannot fit a tensor of shape ${shape.toList()} to ${to.toList()}")
        if (to.contentEquals(shape)) return this
        return map(to) { idx -> if (idx.indices.all { idx[it] < shape[it] }) flat(idx) else -1 }
    }

    /** Axes reordered: axis i of the result is axis perm[i] of this one (numpy's transpose). */
    fun permute(perm: IntArray): Tensor {
        val to = IntArray(perm.size) { shape[perm[it]] }
        return map(to) { idx -> flat(IntArray(perm.size).also { src -> for (i in perm.indices) src[perm[i]] = idx[i] }) }
    }

    /** The flat index of a multi-index. */
    fun flat(idx: IntArray): Int {
        var f = 0
        for (i in shape.indices) f = f * shape[i] + idx[i]
        return f
    }

    /** A tensor of shape `to` whose element at each multi-index comes from this one's flat index `source(idx)` (-1: zero). */
    private fun map(to: IntArray, source: (IntArray) -> Int): Tensor {
        val n = to.fold(1) { a, b -> a * b }
        val idx = IntArray(to.size)
        val f = FloatArray(if (dtype == DType.FLOAT32) n else 0)
        val l = LongArray(if (dtype == DType.FLOAT32) 0 else n)
        for (k in 0 until n) {
            var rest = k
            for (i in to.indices.reversed()) { idx[i] = rest % to[i]; rest /= to[i] }
            val s = source(idx)
            if (s >= 0) { if (dtype == DType.FLOAT32) f[k] = floats[s] else l[k] = longs[s] }
        }
        return if (dtype == DType.FLOAT32) floats(to, f) else ints(dtype, to, l)
    }

    companion object {
        /** Tensors of one dtype joined along the first axis. */
        fun concat(parts: List<Tensor>): Tensor {
            val first = parts.first()
            if (parts.size == 1) return first
            val s = first.shape.copyOf().also { it[0] = parts.sumOf { p -> p.shape[0] } }
            return if (first.dtype == DType.FLOAT32) floats(s, FloatArray(parts.sumOf { it.size }).also { out ->
                var at = 0
                for (p in parts) { p.floats.copyInto(out, at); at += p.size }
            }) else ints(first.dtype, s, LongArray(parts.sumOf { it.size }).also { out ->
                var at = 0
                for (p in parts) { p.longs.copyInto(out, at); at += p.size }
            })
        }

        fun floats(shape: IntArray, values: FloatArray): Tensor {
            check(shape, values.size)
            return Tensor(DType.FLOAT32, shape, values, LongArray(0))
        }

        fun ints(dtype: DType, shape: IntArray, values: LongArray): Tensor {
            require(dtype != DType.FLOAT32) { "ints() takes an integer dtype" }
            check(shape, values.size)
            return Tensor(dtype, shape, FloatArray(0), values)
        }

        fun zeros(dtype: DType, shape: IntArray): Tensor {
            val n = shape.fold(1) { a, b -> a * b }
            return if (dtype == DType.FLOAT32) floats(shape, FloatArray(n)) else ints(dtype, shape, LongArray(n))
        }

        private fun check(shape: IntArray, n: Int) {
            val want = shape.fold(1) { a, b -> a * b }
            if (want != n) throw MobileSdkException("a tensor of shape ${shape.toList()} needs $want values, not $n")
        }
    }
}

/** numpy's .npy (version 1.0, little-endian, C order) and .npz (a zip of .npy files). */
object Npy {
    fun write(t: Tensor, out: OutputStream) {
        val dims = t.shape.joinToString(", ") + if (t.shape.size == 1) "," else ""
        var header = "{'descr': '${t.dtype.npy}', 'fortran_order': False, 'shape': ($dims), }"
        header += " ".repeat(63 - (10 + header.length) % 64) + "\n"
        val buf = ByteBuffer.allocate(10 + header.length + t.size * t.dtype.bytes).order(ByteOrder.LITTLE_ENDIAN)
        buf.put(byteArrayOf(0x93.toByte(), 'N'.code.toByte(), 'U'.code.toByte(), 'M'.code.toByte(), 'P'.code.toByte(), 'Y'.code.toByte(), 1, 0))
        buf.putShort(header.length.toShort())
        buf.put(header.toByteArray(Charsets.US_ASCII))
        for (i in 0 until t.size) when (t.dtype) {
            DType.FLOAT32 -> buf.putFloat(t.floats[i])
            DType.INT32 -> buf.putInt(t.longs[i].toInt())
            DType.INT64 -> buf.putLong(t.longs[i])
        }
        out.write(buf.array())
    }

    /** A .npy of a dtype the bindings handle, or null for others (e.g. the text rows' unicode arrays). */
    fun read(bytes: ByteArray): Tensor? {
        val buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)
        if (bytes.size < 10 || bytes[0] != 0x93.toByte() || String(bytes, 1, 5, Charsets.US_ASCII) != "NUMPY") {
            throw MobileSdkException("not a .npy file. Fix: pass arrays saved by numpy.save or numpy.savez")
        }
        val major = bytes[6].toInt()
        val headerLen = if (major == 1) buf.getShort(8).toInt() and 0xffff else buf.getInt(8)
        val start = if (major == 1) 10 else 12
        val header = String(bytes, start, headerLen, Charsets.ISO_8859_1)
        val descr = Regex("'descr':\\s*'([^']+)'").find(header)?.groupValues?.get(1) ?: return null
        val shape = Regex("'shape':\\s*\\(([^)]*)\\)").find(header)!!.groupValues[1]
            .split(",").map { it.trim() }.filter { it.isNotEmpty() }.map { it.toInt() }.toIntArray()
        val dtype = DType.values().firstOrNull { it.npy == descr || it.npy.replace('<', '|') == descr } ?: return null
        buf.position(start + headerLen)
        val n = shape.fold(1) { a, b -> a * b }
        // Fortran order (numpy saves a transposed array that way): the values of the reversed shape, C-ordered
        val fortran = "'fortran_order': True" in header
        val stored = if (fortran) shape.reversedArray() else shape
        val t = when (dtype) {
            DType.FLOAT32 -> Tensor.floats(stored, FloatArray(n) { buf.getFloat() })
            DType.INT32 -> Tensor.ints(dtype, stored, LongArray(n) { buf.getInt().toLong() })
            DType.INT64 -> Tensor.ints(dtype, stored, LongArray(n) { buf.getLong() })
        }
        return if (fortran) t.permute(IntArray(shape.size) { shape.size - 1 - it }) else t
    }

    fun writeNpz(tensors: Map<String, Tensor>, out: OutputStream) {
        val zip = ZipOutputStream(out)
        for ((name, t) in tensors) {
            zip.putNextEntry(ZipEntry("$name.npy"))
            Npy.write(t, zip)
            zip.closeEntry()
        }
        zip.finish()
    }

    /** The arrays of a .npz by name (without `.npy`), skipping dtypes the bindings do not handle. */
    fun readNpz(input: InputStream): Map<String, Tensor> {
        val out = LinkedHashMap<String, Tensor>()
        val zip = ZipInputStream(input)
        while (true) {
            val entry = zip.nextEntry ?: break
            val bytes = ByteArrayOutputStream().also { zip.copyTo(it) }.toByteArray()
            Npy.read(bytes)?.let { out[entry.name.removeSuffix(".npy")] = it }
        }
        return out
    }
}

/** A bad input or a bundle the bindings cannot use: the message names the input and the fix. */
open class MobileSdkException(message: String) : Exception(message)
