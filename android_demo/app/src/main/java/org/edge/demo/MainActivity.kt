package org.edge.demo

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.ImageDecoder
import android.net.Uri
import android.os.Build
import android.os.Bundle
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.ImageView
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.core.content.FileProvider
import java.io.File
import java.util.concurrent.Executors

/**
 * The classifier: pick a model (bundled or pushed), pick or take a photo, see the top-5 classes
 * with the manifest's labels and how long preprocessing and inference took.
 */
class MainActivity : ComponentActivity() {

    /** A model ready to run, with what the UI needs to describe it. */
    private class LoadedModel(val file: File, val manifest: EdgeManifest, val runner: ModelRunner?, val loadMs: Double,
                              val platform: PlatformClassifier? = null) {
        fun close() {
            runner?.close()
            platform?.close()
        }
    }

    // One worker thread: runtimes are not thread-safe and loading must stay off the UI thread.
    private val worker = Executors.newSingleThreadExecutor()
    private var loaded: LoadedModel? = null
    private var choices: List<ModelChoice> = emptyList()
    private var photoUri: Uri? = null

    private lateinit var spinner: Spinner
    private lateinit var modelInfo: TextView
    private lateinit var photo: ImageView
    private lateinit var result: TextView

    private val pickImage = registerForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri ->
        if (uri != null) classify(uri)
    }
    private val takePhoto = registerForActivityResult(ActivityResultContracts.TakePicture()) { saved ->
        val uri = photoUri
        if (saved && uri != null) classify(uri)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        spinner = findViewById(R.id.model_spinner)
        modelInfo = findViewById(R.id.model_info)
        photo = findViewById(R.id.photo)
        result = findViewById(R.id.result)

        findViewById<Button>(R.id.gallery_button).setOnClickListener {
            pickImage.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
        }
        findViewById<Button>(R.id.camera_button).setOnClickListener {
            // The camera app writes the full-size photo here; its thumbnail would be too small to crop.
            val file = File(cacheDir, "photos/photo.jpg").also { it.parentFile?.mkdirs() }
            val uri = FileProvider.getUriForFile(this, "org.edge.demo.photos", file)
            photoUri = uri
            takePhoto.launch(uri)
        }
        spinner.onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>?, view: View?, position: Int, id: Long) {
                choices.getOrNull(position)?.let(::load)
            }

            override fun onNothingSelected(parent: AdapterView<*>?) = Unit
        }
    }

    override fun onResume() {
        super.onResume()
        refreshModels()  // models pushed with adb while the app was in the background show up
    }

    override fun onDestroy() {
        worker.execute { loaded?.close() }
        worker.shutdown()
        super.onDestroy()
    }

    private fun refreshModels() {
        val found = ModelStore.list(this)
        if (found.map { it.argument } == choices.map { it.argument } && found.isNotEmpty()) return
        choices = found
        spinner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, found.map { it.label })
        if (found.isEmpty()) modelInfo.text = getString(R.string.no_models, ModelStore.pushedFolder(this).path)
    }

    private fun load(choice: ModelChoice) {
        modelInfo.text = "Loading ${choice.label}…"
        result.text = ""
        worker.execute {
            val text = try {
                loaded?.close()
                loaded = null
                val file = ModelStore.resolve(this, choice.argument)
                val manifest = ManifestReader.besideOrNull(file)
                    ?: throw ManifestError("${file.name} has no manifest (.json) beside it; the classifier needs its preprocessing and labels")
                val start = System.nanoTime()
                // a .tflite with an NHWC input form and TFLite metadata: MediaPipe Tasks runs it as exported
                val platform = if (PlatformClassifier.handles(file, manifest)) PlatformClassifier(this, file, manifest.preprocessing) else null
                val runner = if (platform == null) ModelRunners.open(file, 0) else null
                val model = LoadedModel(file, manifest, runner, (System.nanoTime() - start) / 1e6, platform)
                loaded = model
                describe(model)
            } catch (e: Exception) {
                "Cannot load ${choice.label}: ${e.message}"
            }
            runOnUiThread { modelInfo.text = text }
        }
    }

    private fun describe(model: LoadedModel): String {
        val m = model.manifest
        val runner = model.runner ?: return "${m.model.name} (${m.model.family}), litert ${m.quant.scheme}: MediaPipe " +
            "ImageClassifier (labels and normalization from the model's metadata), loaded in ${"%.1f".format(model.loadMs)} ms"
        val lines = mutableListOf(
            "${m.model.name} (${m.model.family}), ${m.target.name} ${m.quant.scheme}, ${"%.3f".format(m.model.gmacs)} GMACs",
            "runtime ${runner.runtime.name.lowercase()} ${runner.versions.values.joinToString()}, loaded in ${"%.1f".format(model.loadMs)} ms",
        )
        val parity = ManifestReader.parityOf(m, model.file)
        lines += "export parity: ${parity?.first?.name?.lowercase() ?: "unknown"}" + (parity?.second?.let { ", cosine %.6f".format(it) } ?: "")
        versionMismatch(m, runner)?.let { lines += "warning: $it" }
        if (m.labels == null) lines += "no labels in the manifest: classes are shown by index (export with --labels FILE)"
        return lines.joinToString("\n")
    }

    /** The export verified the artifact with a host runtime; a different phone runtime version may differ. */
    private fun versionMismatch(manifest: EdgeManifest, runner: ModelRunner): String? {
        val (hostPackage, phoneVersion) = when (runner.runtime) {
            RuntimeName.EXECUTORCH -> "executorch" to BuildConfig.EXECUTORCH_VERSION
            RuntimeName.LITERT -> "ai-edge-litert" to BuildConfig.LITERT_VERSION
            RuntimeName.ONNXRUNTIME -> "onnxruntime" to BuildConfig.ONNXRUNTIME_VERSION
        }
        val hostVersion = manifest.versions[hostPackage] ?: return null
        return if (hostVersion == phoneVersion) null
        else "exported and verified with $hostPackage $hostVersion, running on $phoneVersion"
    }

    private fun classify(uri: Uri) {
        val model = loaded ?: run {
            result.text = "Pick a model first."
            return
        }
        result.text = "Classifying…"
        worker.execute {
            val text = try {
                val bitmap = decode(uri, model.manifest.preprocessing.resizeShorterTo)
                runOnUiThread { photo.setImageBitmap(bitmap) }
                model.platform?.let { platform ->
                    val start = System.nanoTime()
                    val top = platform.classify(bitmap)
                    val ms = (System.nanoTime() - start) / 1e6
                    return@let buildString {
                        top.forEachIndexed { i, (label, score) -> appendLine("%d. %-28s %8.3f".format(i + 1, label.take(28), score)) }
                        appendLine()
                        append("MediaPipe classify ${"%.2f".format(ms)} ms (scaling and inference; one run)")
                    }
                } ?: classifyWithRunner(model, bitmap)
            } catch (e: Exception) {
                "Cannot classify: ${e.message}"
            }
            runOnUiThread { result.text = text }
        }
    }

    /** Edge's own preprocessing into the runtime's input tensor, then top-5 over the logits. */
    private fun classifyWithRunner(model: LoadedModel, bitmap: Bitmap): String {
        val runner = checkNotNull(model.runner)
        val preStart = System.nanoTime()
        val prepared = ImagePreprocessor.prepare(bitmap, model.manifest.preprocessing, model.manifest.inputs.first())
        val preMs = (System.nanoTime() - preStart) / 1e6
        runner.setInput(prepared.tensor, prepared.shape)
        val runStart = System.nanoTime()
        runner.run()
        val runMs = (System.nanoTime() - runStart) / 1e6
        val ranked = Classification.topK(runner.output(), model.manifest.labels)
        return buildString {
            if (model.manifest.outputs.first().kind != OutputKind.LOGITS) appendLine("output is not logits: softmax shown for reference only")
            ranked.forEachIndexed { i, c -> appendLine("%d. %-28s %6.2f%%".format(i + 1, c.label.take(28), c.probability * 100)) }
            appendLine()
            appendLine("inference ${"%.2f".format(runMs)} ms (one run, not warmed up: use benchmark mode for numbers)")
            append("preprocessing ${"%.2f".format(preMs)} ms")
            prepared.note?.let { append("\nnote: $it") }
        }
    }

    /** Decodes the photo upright (EXIF rotation applied on API 28+), sampled down to about twice the resize target. */
    private fun decode(uri: Uri, resizeShorterTo: Int): Bitmap {
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            return ImageDecoder.decodeBitmap(ImageDecoder.createSource(contentResolver, uri)) { decoder, info, _ ->
                decoder.allocator = ImageDecoder.ALLOCATOR_SOFTWARE  // pixels must be readable on the CPU
                decoder.setTargetSampleSize(sampleSize(minOf(info.size.width, info.size.height), resizeShorterTo))
            }
        }
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        contentResolver.openInputStream(uri).use { BitmapFactory.decodeStream(it, null, bounds) }
        val options = BitmapFactory.Options().apply {
            inSampleSize = sampleSize(minOf(bounds.outWidth, bounds.outHeight), resizeShorterTo)
        }
        return contentResolver.openInputStream(uri).use { BitmapFactory.decodeStream(it, null, options) }
            ?: throw IllegalArgumentException("the picked file is not an image Android can decode")
    }

    /** Largest power of two that keeps the shorter side at least twice the resize target. */
    private fun sampleSize(shorterSide: Int, resizeShorterTo: Int): Int {
        var sample = 1
        while (shorterSide / (sample * 2) >= resizeShorterTo * 2) sample *= 2
        return sample
    }
}
