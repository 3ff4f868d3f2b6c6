// Bundle files on an Android device: the generated module ships the bundle's files as app assets.
// Runtimes that need a file path get a copy in the app's files directory, made once per file.
package mobilesdk

import android.content.Context
import java.io.File
import java.io.InputStream

class AndroidAssets(private val context: Context) {
    fun open(path: String): InputStream = context.assets.open(path)

    /** A file-system copy of an asset, for runtimes that load from a path. */
    fun file(path: String): File {
        val target = File(context.filesDir, "mobilesdk/$path")
        if (!target.exists()) {
            target.parentFile?.mkdirs()
            val partial = File(target.path + ".part")
            open(path).use { input -> partial.outputStream().use { input.copyTo(it) } }
            if (!partial.renameTo(target)) throw MobileSdkException("could not write $target. Fix: free space on the device")
        }
        return target
    }
}
