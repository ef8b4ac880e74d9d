package org.edge.demo

import java.io.File
import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.SerializationException
import kotlinx.serialization.json.Json

/**
 * The part of the manifest `edge export` writes beside every artifact
 * (edge/schemas/manifest.schema.json) that this app reads: input/output specs, preprocessing,
 * labels, parity, versions.
 *
 * Each @SerialName is a schema key. tests/test_demos.py parses these classes and checks every
 * property against the schema (name, type, required, enum values), so a manifest change that
 * would break the app fails CI instead of a phone.
 */
@Serializable
data class EdgeManifest(
    val schema: String,
    val artifact: ManifestArtifact,
    val model: ManifestModel,
    val target: ManifestTarget,
    val quant: ManifestQuant,
    val inputs: List<InputSpec>,
    val outputs: List<OutputSpec>,
    val preprocessing: Preprocessing,
    val labels: List<String>?,
    val parity: ManifestParity,
    val versions: Map<String, String>,
    /** Absent in manifests written before input forms: those are nchw-float, normalized by the app. */
    val app: AppIO? = null,
)

/** How the platform's own API feeds the artifact, and what the artifact itself embeds for it. */
@Serializable
data class AppIO(
    @SerialName("input_form") val inputForm: InputForm,
    val normalization: Normalization,
    val classifier: Boolean = false,
    @SerialName("embedded_metadata") val embeddedMetadata: EmbeddedMetadata,
)

@Serializable
enum class InputForm {
    @SerialName("nchw-float") NCHW_FLOAT,
    @SerialName("nhwc-float") NHWC_FLOAT,
    @SerialName("nhwc-uint8") NHWC_UINT8,
}

@Serializable
enum class Normalization {
    @SerialName("by_app") BY_APP,
    @SerialName("in_graph") IN_GRAPH,
    @SerialName("image_type") IMAGE_TYPE,
}

@Serializable
data class EmbeddedMetadata(
    val kind: EmbeddedKind,
    val keys: List<String> = emptyList(),
    @SerialName("associated_files") val associatedFiles: List<String> = emptyList(),
)

@Serializable
enum class EmbeddedKind {
    @SerialName("tflite_metadata") TFLITE_METADATA,
    @SerialName("onnx_metadata_props") ONNX_METADATA_PROPS,
    @SerialName("coreml_metadata") COREML_METADATA,
    @SerialName("pte_constant_methods") PTE_CONSTANT_METHODS,
}

@Serializable
data class ManifestArtifact(
    val file: String,
    val format: ManifestFormat,
    val sha256: String,
    @SerialName("size_bytes") val sizeBytes: Long,
    @SerialName("extra_files") val extraFiles: Map<String, CompanionFile>,
)

@Serializable
enum class ManifestFormat {
    @SerialName("pte") PTE,
    @SerialName("tflite") TFLITE,
    @SerialName("mlpackage") MLPACKAGE,
    @SerialName("onnx") ONNX,
}

/** A file exported beside the artifact, e.g. the ORT Mobile model under the key "ort". */
@Serializable
data class CompanionFile(
    val file: String,
    val sha256: String,
    @SerialName("size_bytes") val sizeBytes: Long,
)

@Serializable
data class ManifestModel(
    val name: String,
    val family: String,
    val gmacs: Double,
)

@Serializable
data class ManifestTarget(
    val name: String,
    val runtime: String,
)

@Serializable
data class ManifestQuant(
    val scheme: String,
)

@Serializable
data class InputSpec(
    val name: String,
    val shape: List<Long>,
    val dtype: String,
    val layout: TensorLayout,
    @SerialName("value_range") val valueRange: List<Double>,
)

@Serializable
enum class TensorLayout {
    @SerialName("NCHW") NCHW,
    @SerialName("NHWC") NHWC,
    @SerialName("image") IMAGE,
}

@Serializable
data class OutputSpec(
    val name: String,
    val shape: List<Long>,
    val dtype: String,
    val kind: OutputKind,
)

@Serializable
enum class OutputKind {
    @SerialName("logits") LOGITS,
    @SerialName("tensor") TENSOR,
    @SerialName("label") LABEL,
    @SerialName("probabilities") PROBABILITIES,
}

@Serializable
data class Preprocessing(
    val color: String,
    @SerialName("resize_shorter_to") val resizeShorterTo: Int,
    @SerialName("center_crop") val centerCrop: Int,
    val interpolation: Interpolation,
    val scale: Double,
    val mean: List<Double>,
    val std: List<Double>,
)

@Serializable
enum class Interpolation {
    @SerialName("bilinear") BILINEAR,
    @SerialName("bicubic") BICUBIC,
    @SerialName("nearest") NEAREST,
}

@Serializable
data class ManifestParity(
    val status: ParityStatus,
    val cosine: Double? = null,
    @SerialName("extra_files") val extraFiles: Map<String, CompanionParity> = emptyMap(),
)

/** Parity of a companion file that also runs (the .ort); the schema leaves its shape open. */
@Serializable
data class CompanionParity(
    val status: ParityStatus,
    val cosine: Double? = null,
)

@Serializable
enum class ParityStatus {
    @SerialName("passed") PASSED,
    @SerialName("failed") FAILED,
    @SerialName("not_run") NOT_RUN,
}

class ManifestError(message: String) : Exception(message)

object ManifestReader {
    const val SCHEMA_ID = "edge.manifest/1"

    // The manifest holds much more (coverage, fallbacks, config) than the app needs.
    private val json = Json { ignoreUnknownKeys = true }

    /** The `<stem>.json` written beside `model`, or null when there is none. */
    fun besideOrNull(model: File): EdgeManifest? {
        val file = File(model.parentFile, model.nameWithoutExtension + ".json")
        return if (file.isFile) parse(file.readText(), file.name) else null
    }

    fun parse(text: String, source: String): EdgeManifest {
        val manifest = try {
            json.decodeFromString(EdgeManifest.serializer(), text)
        } catch (e: SerializationException) {
            throw ManifestError("$source is not an edge manifest this app understands: ${e.message?.lineSequence()?.first()}")
        } catch (e: IllegalArgumentException) {
            throw ManifestError("$source is not valid JSON: ${e.message?.lineSequence()?.first()}")
        }
        if (manifest.schema != SCHEMA_ID) {
            throw ManifestError("$source has schema '${manifest.schema}'; this app reads $SCHEMA_ID. Re-export with this edge version.")
        }
        if (manifest.inputs.size != 1) {
            throw ManifestError("$source describes ${manifest.inputs.size} inputs; the demo feeds one image tensor.")
        }
        return manifest
    }

    /** The sha256 the manifest gives for `model`: the main artifact, or a companion such as the .ort. */
    fun expectedSha256(manifest: EdgeManifest, model: File): String? {
        if (manifest.artifact.file == model.name) return manifest.artifact.sha256
        return manifest.artifact.extraFiles.values.firstOrNull { it.file == model.name }?.sha256
    }

    /** Parity of exactly this file (a companion's own parity for the .ort), or null when unknown. */
    fun parityOf(manifest: EdgeManifest, model: File): Pair<ParityStatus, Double?>? {
        if (manifest.artifact.file == model.name) return manifest.parity.status to manifest.parity.cosine
        val role = manifest.artifact.extraFiles.entries.firstOrNull { it.value.file == model.name }?.key ?: return null
        val companion = manifest.parity.extraFiles[role] ?: return null
        return companion.status to companion.cosine
    }
}
