package org.edge.demo

import java.io.File
import java.io.IOException
import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject

/**
 * The profile record (runtimes/schemas/profile_record.schema.json): the same JSON shape
 * `edge profile` writes on the host and over adb, so `edge report` compares them directly.
 *
 * No property has a default value and every nullable one is written as null: the schema requires
 * those keys. tests/test_demos.py checks these classes field by field against the schema and
 * validates a record built from them.
 */
@Serializable
data class ProfileRecord(
    val schema: String,
    val created: String,
    val artifact: RecordArtifact,
    val device: RecordDevice,
    val runtime: RecordRuntime,
    val runner: RecordRunner,
    @SerialName("load_ms") val loadMs: Double,
    @SerialName("first_run_ms") val firstRunMs: Double?,
    val warmup: Int,
    val runs: Int,
    @SerialName("latency_ms") val latencyMs: LatencyMs,
    @SerialName("samples_ms") val samplesMs: List<Double>,
    val memory: RecordMemory,
    val ops: RecordOps,
    val inputs: List<RecordInput>,
    val notes: List<String>,
) {
    companion object {
        const val SCHEMA_ID = "edge.profile_record/1"
    }
}

@Serializable
data class RecordArtifact(
    val file: String,
    val path: String,
    val format: RecordFormat,
    @SerialName("size_bytes") val sizeBytes: Long,
    val sha256: String?,
    val manifest: ManifestSummary?,
)

@Serializable
enum class RecordFormat {
    @SerialName("pte") PTE,
    @SerialName("tflite") TFLITE,
    @SerialName("onnx") ONNX,
    @SerialName("ort") ORT,
}

@Serializable
data class ManifestSummary(
    val model: String,
    val target: String,
    val quant: String,
    val gmacs: Double?,
    val parity: ParitySummary,
)

@Serializable
data class ParitySummary(
    val status: ParityStatus,
    val cosine: Double?,
)

@Serializable
data class RecordDevice(
    val kind: DeviceKind,
    val name: String,
    val model: String?,
    val soc: String?,
    val cpu: String?,
    val cores: Int?,
    val os: String,
    @SerialName("battery_temp_c") val batteryTempC: BatteryTemperature?,
)

@Serializable
enum class DeviceKind {
    @SerialName("android") ANDROID,
}

@Serializable
data class BatteryTemperature(
    val before: Double?,
    val after: Double?,
)

@Serializable
data class RecordRuntime(
    val name: RuntimeName,
    val versions: Map<String, String>,
    val threads: Int?,
    val delegates: RecordDelegates,
)

@Serializable
enum class RuntimeName {
    @SerialName("executorch") EXECUTORCH,
    @SerialName("litert") LITERT,
    @SerialName("onnxruntime") ONNXRUNTIME,
}

/** The app cannot count delegate partitions; `edge profile --device adb` fills them from the file. */
@Serializable
data class RecordDelegates(
    val partitions: Int?,
    val detail: JsonObject,
)

@Serializable
data class RecordRunner(
    val kind: RunnerKind,
    val name: String,
    val command: List<String>?,
)

@Serializable
enum class RunnerKind {
    @SerialName("android_app") ANDROID_APP,
}

@Serializable
data class LatencyMs(
    val min: Double,
    val max: Double,
    val p10: Double,
    val p50: Double,
    val p90: Double,
    val mean: Double,
    @SerialName("trimmed_mean") val trimmedMean: Double,
    val stdev: Double,
)

@Serializable
data class RecordMemory(
    @SerialName("peak_rss_bytes") val peakRssBytes: Long?,
    @SerialName("baseline_rss_bytes") val baselineRssBytes: Long?,
    @SerialName("peak_delta_bytes") val peakDeltaBytes: Long?,
    val method: String,
)

@Serializable
data class RecordOps(
    val available: Boolean,
    val reason: String,
)

@Serializable
data class RecordInput(
    val name: String,
    val shape: List<Long>,
    val dtype: String,
    val source: InputSource,
)

@Serializable
enum class InputSource {
    @SerialName("manifest") MANIFEST,
    @SerialName("runtime") RUNTIME,
}

object RecordWriter {
    private val json = Json {
        prettyPrint = true
        encodeDefaults = true  // belt and braces: the classes above have no defaults to drop
        explicitNulls = true   // required-but-unknown fields must appear as null, not vanish
    }

    fun encode(record: ProfileRecord): String = json.encodeToString(ProfileRecord.serializer(), record) + "\n"

    /** Temporary name in the same folder, then rename: a harness polling for the file never reads half of it. */
    fun writeAtomically(text: String, destination: File) {
        val partial = File(destination.parentFile, ".${destination.name}.partial")
        partial.writeText(text)
        if (!partial.renameTo(destination)) {
            partial.delete()
            throw IOException("cannot rename ${partial.name} to ${destination.path}")
        }
    }
}
