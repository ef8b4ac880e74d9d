package org.edge.demo

import android.content.Context
import android.graphics.Bitmap
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.vision.imageclassifier.ImageClassifier
import java.io.File
import java.io.FileInputStream
import java.nio.channels.FileChannel

/**
 * The platform path for a .tflite exported with an NHWC input form (`edge export --target litert
 * --input-form nhwc-float` or `nhwc-uint8`): MediaPipe Tasks' ImageClassifier loads the model as exported
 * and reads the normalization and the labels from its TFLite Model Metadata, so the app hands it a
 * Bitmap and nothing else. The manifest is only used to crop like edge's preprocessing.
 */
class PlatformClassifier(context: Context, file: File, private val preprocessing: Preprocessing) : AutoCloseable {
    private val classifier: ImageClassifier

    init {
        val model = FileInputStream(file).channel.use { it.map(FileChannel.MapMode.READ_ONLY, 0, it.size()) }
        val options = ImageClassifier.ImageClassifierOptions.builder()
            .setBaseOptions(BaseOptions.builder().setModelAssetBuffer(model).build())
            .setMaxResults(5)
            .build()
        classifier = ImageClassifier.createFromOptions(context, options)
    }

    /** Top-5 as MediaPipe ranks them; the scores are the model's logits (higher is more likely). */
    fun classify(bitmap: Bitmap): List<Pair<String, Float>> {
        val result = classifier.classify(BitmapImageBuilder(centerSquare(bitmap)).build())
        val categories = result.classificationResult().classifications().first().categories()
        return categories.map { (it.categoryName().ifEmpty { "class ${it.index()}" }) to it.score() }
    }

    /** edge resizes the shorter side to resize_shorter_to and crops center_crop: the same as cropping the
     * central center_crop / resize_shorter_to of the shorter side; MediaPipe then scales it to the input. */
    private fun centerSquare(bitmap: Bitmap): Bitmap {
        val side = (minOf(bitmap.width, bitmap.height) * preprocessing.centerCrop.toDouble() /
            preprocessing.resizeShorterTo).toInt()
        return Bitmap.createBitmap(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side)
    }

    override fun close() = classifier.close()

    companion object {
        /** A .tflite MediaPipe can run as it is: NHWC input and TFLite metadata written by the export. */
        fun handles(file: File, manifest: EdgeManifest): Boolean =
            file.extension.lowercase() == "tflite" && manifest.app?.embeddedMetadata?.kind == EmbeddedKind.TFLITE_METADATA &&
                manifest.inputs.first().layout == TensorLayout.NHWC
    }
}
