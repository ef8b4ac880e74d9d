package org.edge.demo

import android.content.Context
import android.util.Log
import java.io.File
import java.io.IOException

/** A model the app offers: a label for the list and the argument that `ModelStore.resolve` turns into a file. */
data class ModelChoice(val label: String, val argument: String)

/**
 * Where models come from: the APK's assets/models (put there by `edge bundle --app android`), or
 * the app's external files folder, where `adb push` can write without root and the app can read
 * without a storage permission.
 */
object ModelStore {
    private const val TAG = "EdgeDemo"
    const val ASSET_FOLDER = "models"
    const val ASSET_PREFIX = "asset:"

    fun pushedFolder(context: Context): File =
        context.getExternalFilesDir(null) ?: File(context.filesDir, "pushed").also { it.mkdirs() }

    /** "asset:NAME" (bundled), an absolute path, or a file name in the pushed folder. */
    fun resolve(context: Context, argument: String): File = when {
        argument.startsWith(ASSET_PREFIX) -> materializeAsset(context, argument.removePrefix(ASSET_PREFIX))
        File(argument).isAbsolute -> File(argument)
        else -> File(pushedFolder(context), argument)
    }

    /** Every bundled manifest's runnable file, then every model file pushed with adb. */
    fun list(context: Context): List<ModelChoice> {
        val choices = mutableListOf<ModelChoice>()
        val assets = context.assets.list(ASSET_FOLDER)?.toSet().orEmpty()
        for (name in assets.filter { it.endsWith(".json") }.sorted()) {
            val text = context.assets.open("$ASSET_FOLDER/$name").bufferedReader().use { it.readText() }
            val manifest = try {
                ManifestReader.parse(text, name)
            } catch (e: ManifestError) {
                Log.w(TAG, "bundled ${e.message}; not listed")  // `edge bundle` validates, so this means a hand-copied file
                continue
            }
            val file = runnableFile(manifest, assets) ?: continue
            choices += ModelChoice("$file (bundled)", ASSET_PREFIX + file)
        }
        val pushed = pushedFolder(context).listFiles().orEmpty()
            .filter { it.isFile && ModelRunners.formatOf(it) != null }
            .sortedBy { it.name }
        for (file in pushed) choices += ModelChoice("${file.name} (pushed)", file.absolutePath)
        return choices
    }

    /**
     * The file this app runs for a manifest: the artifact itself when Android runs its format, and
     * for an ONNX export the ORT Mobile companion (.ort) when it is there.
     */
    fun runnableFile(manifest: EdgeManifest, available: Set<String>): String? {
        val ort = manifest.artifact.extraFiles["ort"]?.file
        if (manifest.artifact.format == ManifestFormat.ONNX && ort != null && ort in available) return ort
        val main = manifest.artifact.file
        return if (main in available && ModelRunners.formatOf(File(main)) != null) main else null
    }

    /**
     * Runtimes open files by path, so a bundled model is copied out of the APK once (and again when
     * its size changes, i.e. after re-bundling), with its manifest beside it.
     */
    private fun materializeAsset(context: Context, name: String): File {
        val folder = File(context.filesDir, ASSET_FOLDER).also { it.mkdirs() }
        val manifestName = File(name).nameWithoutExtension + ".json"
        for (asset in listOf(name, manifestName)) {
            val target = File(folder, asset)
            try {
                context.assets.openFd("$ASSET_FOLDER/$asset").use { descriptor ->
                    if (target.isFile && target.length() == descriptor.length) return@use
                    copyAsset(context, asset, target)
                }
            } catch (e: IOException) {
                // openFd fails for compressed assets (the manifest); those are small, copy them anyway.
                if (asset == name && !assetExists(context, asset)) throw BenchmarkError("bundled model '$asset' is not in the APK")
                if (assetExists(context, asset)) copyAsset(context, asset, target)
            }
        }
        return File(folder, name)
    }

    private fun assetExists(context: Context, name: String): Boolean =
        context.assets.list(ASSET_FOLDER)?.contains(name) == true

    private fun copyAsset(context: Context, name: String, target: File) {
        val partial = File(target.parentFile, ".${target.name}.partial")
        context.assets.open("$ASSET_FOLDER/$name").use { input -> partial.outputStream().use { input.copyTo(it) } }
        if (!partial.renameTo(target)) throw IOException("cannot rename ${partial.name} to ${target.name}")
    }
}
