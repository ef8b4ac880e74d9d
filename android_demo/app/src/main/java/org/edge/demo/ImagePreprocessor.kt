package org.edge.demo

import android.graphics.Bitmap
import kotlin.math.roundToInt

/**
 * Turns a photo into the model's input tensor exactly as the manifest's preprocessing says:
 * resize the shorter side, crop the centre square, scale 0-255 to 0-1, subtract mean, divide by
 * std, and lay the channels out as the input spec's layout (NCHW or NHWC).
 *
 * Sizes and crop offsets follow torchvision's Resize(int) and CenterCrop, which produced the
 * reference numbers the export verified against.
 */
object ImagePreprocessor {

    class Prepared(val tensor: FloatArray, val shape: LongArray, val note: String?)

    fun prepare(source: Bitmap, pre: Preprocessing, input: InputSpec): Prepared {
        require(pre.color == "RGB") { "preprocessing color '${pre.color}' is not supported; the app feeds RGB." }
        val crop = pre.centerCrop
        val expected = when (input.layout) {
            TensorLayout.NCHW -> listOf(1L, 3L, crop.toLong(), crop.toLong())
            TensorLayout.NHWC -> listOf(1L, crop.toLong(), crop.toLong(), 3L)
        }
        require(input.shape == expected) {
            "input '${input.name}' has shape ${input.shape} but a ${crop}px ${input.layout} image is $expected; " +
                "the manifest is inconsistent, re-export."
        }
        val rgb = if (source.config == Bitmap.Config.ARGB_8888) source else source.copy(Bitmap.Config.ARGB_8888, false)
        val resized = resizeShorterSide(rgb, pre.resizeShorterTo, pre.interpolation)
        val cropped = centerCrop(resized, crop)
        val tensor = normalize(cropped, pre, input.layout)
        // Android has no bicubic bitmap filter; say so instead of silently differing from the export.
        val note = if (pre.interpolation == Interpolation.BICUBIC) "bicubic resize approximated with bilinear" else null
        return Prepared(tensor, input.shape.toLongArray(), note)
    }

    /** torchvision Resize(size): the shorter side becomes `size`, the longer one int(size * long / short). */
    fun resizedSize(width: Int, height: Int, shorterTo: Int): Pair<Int, Int> {
        return if (width <= height) {
            shorterTo to (shorterTo.toLong() * height / width).toInt()
        } else {
            (shorterTo.toLong() * width / height).toInt() to shorterTo
        }
    }

    private fun resizeShorterSide(bitmap: Bitmap, shorterTo: Int, interpolation: Interpolation): Bitmap {
        val (targetW, targetH) = resizedSize(bitmap.width, bitmap.height, shorterTo)
        if (interpolation == Interpolation.NEAREST) {
            return Bitmap.createScaledBitmap(bitmap, targetW, targetH, false)
        }
        // Bilinear on a large downscale skips pixels (aliasing), unlike PIL's antialiased resize that
        // the export used; halving first keeps every step within 2x so all pixels contribute.
        var current = bitmap
        while (current.width / 2 >= targetW && current.height / 2 >= targetH) {
            current = Bitmap.createScaledBitmap(current, current.width / 2, current.height / 2, true)
        }
        return Bitmap.createScaledBitmap(current, targetW, targetH, true)
    }

    /** torchvision CenterCrop: offsets round((size - crop) / 2). */
    private fun centerCrop(bitmap: Bitmap, crop: Int): Bitmap {
        require(bitmap.width >= crop && bitmap.height >= crop) {
            "resized image ${bitmap.width}x${bitmap.height} is smaller than the ${crop}px crop; the manifest's resize_shorter_to is too small."
        }
        val left = ((bitmap.width - crop) / 2.0).roundToInt()
        val top = ((bitmap.height - crop) / 2.0).roundToInt()
        return Bitmap.createBitmap(bitmap, left, top, crop, crop)
    }

    private fun normalize(bitmap: Bitmap, pre: Preprocessing, layout: TensorLayout): FloatArray {
        val size = bitmap.width
        val plane = size * size
        val pixels = IntArray(plane)
        bitmap.getPixels(pixels, 0, size, 0, 0, size, size)
        val out = FloatArray(plane * 3)
        val scale = pre.scale.toFloat()
        val mean = FloatArray(3) { pre.mean[it].toFloat() }
        val invStd = FloatArray(3) { 1f / pre.std[it].toFloat() }
        for (i in 0 until plane) {
            val argb = pixels[i]
            for (c in 0 until 3) {
                val byte = (argb shr (16 - 8 * c)) and 0xFF  // R, G, B from an ARGB int
                val value = (byte * scale - mean[c]) * invStd[c]
                when (layout) {
                    TensorLayout.NCHW -> out[c * plane + i] = value
                    TensorLayout.NHWC -> out[i * 3 + c] = value
                }
            }
        }
        return out
    }
}
