package org.edge.demo

import android.content.Context
import android.content.Intent
import java.io.File
import java.security.MessageDigest
import java.time.OffsetDateTime
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter
import java.time.temporal.ChronoUnit
import java.util.Random
import kotlinx.serialization.json.JsonObject

/**
 * Benchmark mode's side of the contract with `edge profile --device adb` (android_demo/README.md):
 *
 *   adb shell am start -W -S -n org.edge.demo/.BenchmarkActivity --es model NAME_OR_PATH \
 *       --ei runs 50 --ei warmup 10 --ei threads 4 --es output edge-record.json
 *
 * A relative model name is looked up in the app's external files folder
 * (/sdcard/Android/data/org.edge.demo/files, where `adb push` can write and the app can read);
 * the record is written there too, and `<output>.error` instead when the run fails.
 */
object BenchmarkContract {
    const val PACKAGE = "org.edge.demo"
    const val ACTIVITY = "org.edge.demo/.BenchmarkActivity"
    const val EXTRA_MODEL = "model"
    const val EXTRA_RUNS = "runs"
    const val EXTRA_WARMUP = "warmup"
    const val EXTRA_THREADS = "threads"
    const val EXTRA_OUTPUT = "output"
    const val DEFAULT_RUNS = 50
    const val DEFAULT_WARMUP = 10
    const val DEFAULT_OUTPUT = "edge-record.json"
    const val ERROR_SUFFIX = ".error"
    const val LOG_TAG = "EdgeBenchmark"
}

class BenchmarkError(message: String) : Exception(message)

data class BenchmarkRequest(
    val model: File,
    val runs: Int,
    val warmup: Int,
    val threads: Int,
    val output: File,
    val command: List<String>,
) {
    companion object {
        /** Reads and checks the extras; a mistake is one BenchmarkError line, like `edge profile`'s own checks. */
        fun fromIntent(intent: Intent, context: Context): BenchmarkRequest {
            val folder = ModelStore.pushedFolder(context)
            val modelArg = intent.getStringExtra(BenchmarkContract.EXTRA_MODEL)
                ?: throw BenchmarkError("--es ${BenchmarkContract.EXTRA_MODEL} NAME is required (a file in $folder, or an absolute path)")
            val runs = intent.getIntExtra(BenchmarkContract.EXTRA_RUNS, BenchmarkContract.DEFAULT_RUNS)
            val warmup = intent.getIntExtra(BenchmarkContract.EXTRA_WARMUP, BenchmarkContract.DEFAULT_WARMUP)
            val threads = intent.getIntExtra(BenchmarkContract.EXTRA_THREADS, 0)
            val outputName = intent.getStringExtra(BenchmarkContract.EXTRA_OUTPUT) ?: BenchmarkContract.DEFAULT_OUTPUT
            if (runs < 1) throw BenchmarkError("runs must be at least 1 (50 or more for a number worth quoting); got $runs")
            if (warmup < 0) throw BenchmarkError("warmup cannot be negative; got $warmup")
            if (threads < 0) throw BenchmarkError("threads must be 0 (runtime default) or more; got $threads")
            if (outputName.isBlank() || outputName.contains('/')) {
                throw BenchmarkError("output must be a file name (it is written to $folder); got '$outputName'")
            }
            val model = ModelStore.resolve(context, modelArg)
            val command = listOf(
                "--es", BenchmarkContract.EXTRA_MODEL, modelArg,
                "--ei", BenchmarkContract.EXTRA_RUNS, runs.toString(),
                "--ei", BenchmarkContract.EXTRA_WARMUP, warmup.toString(),
                "--ei", BenchmarkContract.EXTRA_THREADS, threads.toString(),
                "--es", BenchmarkContract.EXTRA_OUTPUT, outputName,
            )
            return BenchmarkRequest(model, runs, warmup, threads, File(folder, outputName), command)
        }
    }
}

/**
 * The protocol of `edge profile` (runtimes/profile.py): load timed apart, then warm-up and timed
 * runs back to back on one fixed input, memory over load and runs, statistics from the samples.
 */
object BenchmarkSession {

    fun run(context: Context, request: BenchmarkRequest): ProfileRecord {
        val model = request.model
        if (!model.isFile) throw BenchmarkError("model ${model.path} does not exist; push it there first (adb push)")
        val format = ModelRunners.formatOf(model)
            ?: throw BenchmarkError("${model.name}: benchmark mode runs .pte, .tflite, .ort and .onnx files")
        val notes = mutableListOf<String>()
        val manifest = ManifestReader.besideOrNull(model)
        val digest = sha256(model)
        val summary = manifest?.let { summarize(it, model, digest, notes) }
        if (manifest == null) notes += "no manifest beside the model: input shape from the runtime, values in [0, 1]"

        val temperatureBefore = DeviceFacts.batteryTempC(context)
        val memory = MemoryWindow.start()
        val loadStart = System.nanoTime()
        val runner = ModelRunners.open(model, request.threads)
        val loadMs = elapsedMs(loadStart)
        val samples = ArrayList<Double>(request.runs)
        var firstRunMs: Double? = null
        val (input, memoryUsed) = runner.use {
            val (spec, data) = benchmarkInput(manifest, runner, format)
            runner.setInput(data, spec.shape.toLongArray())
            for (i in 0 until request.warmup + request.runs) {
                val start = System.nanoTime()
                runner.run()
                val ms = elapsedMs(start)
                if (firstRunMs == null) firstRunMs = ms
                if (i >= request.warmup) samples += LatencyStats.round4(ms)
            }
            spec to memory.finish()
        }
        val temperatureAfter = DeviceFacts.batteryTempC(context)
        notes += "measured by the Android demo app's benchmark mode"
        if (request.threads == 0) notes += "threads: the runtime's own default (none requested)"

        return ProfileRecord(
            schema = ProfileRecord.SCHEMA_ID,
            created = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS)
                .format(DateTimeFormatter.ISO_OFFSET_DATE_TIME),
            artifact = RecordArtifact(
                file = model.name,
                path = model.absolutePath,
                format = format,
                sizeBytes = model.length(),
                sha256 = digest,
                manifest = summary,
            ),
            device = DeviceFacts.device(BatteryTemperature(temperatureBefore, temperatureAfter)),
            runtime = RecordRuntime(
                name = runner.runtime,
                versions = runner.versions,
                threads = runner.threads,
                // Delegate partitions are not visible through the Java APIs; the adb harness counts them from the file.
                delegates = RecordDelegates(partitions = null, detail = JsonObject(emptyMap())),
            ),
            runner = RecordRunner(
                kind = RunnerKind.ANDROID_APP,
                name = "EdgeDemo ${BuildConfig.VERSION_NAME} benchmark mode",
                command = request.command,
            ),
            loadMs = LatencyStats.round4(loadMs),
            firstRunMs = firstRunMs?.let(LatencyStats::round4),
            warmup = request.warmup,
            runs = request.runs,
            latencyMs = LatencyStats.summarize(samples),
            samplesMs = samples,
            memory = memoryUsed,
            ops = RecordOps(
                available = false,
                reason = "the demo app does not collect a per-op profile; the native runner (edge_bench) writes an ETDump",
            ),
            inputs = listOf(input),
            notes = notes,
        )
    }

    /** Seeded uniform values in the manifest's value range, checked against what the runtime declares. */
    private fun benchmarkInput(manifest: EdgeManifest?, runner: ModelRunner, format: RecordFormat): Pair<RecordInput, FloatArray> {
        val declared = runner.declaredInputShape
        val spec = if (manifest != null) {
            val input = manifest.inputs.first()
            if (input.dtype != "float32") throw BenchmarkError("input '${input.name}' is ${input.dtype}; benchmark mode feeds float32")
            if (declared != null && declared != input.shape) {
                throw BenchmarkError("the manifest gives input shape ${input.shape} but the model takes $declared; the manifest belongs to another export")
            }
            RecordInput(input.name, input.shape, input.dtype, InputSource.MANIFEST)
        } else {
            declared ?: throw BenchmarkError("a .${format.name.lowercase()} does not declare its input shape here; push its manifest (.json) beside it")
            RecordInput("input_0", declared, "float32", InputSource.RUNTIME)
        }
        val (low, high) = manifest?.inputs?.first()?.valueRange?.let { it[0] to it[1] } ?: (0.0 to 1.0)
        val random = Random(0)
        val count = spec.shape.fold(1L) { acc, d -> acc * d }.toInt()
        val data = FloatArray(count) { (low + (high - low) * random.nextDouble()).toFloat() }
        return spec to data
    }

    private fun summarize(manifest: EdgeManifest, model: File, digest: String, notes: MutableList<String>): ManifestSummary {
        val expected = ManifestReader.expectedSha256(manifest, model)
        val parity = if (expected == digest) ManifestReader.parityOf(manifest, model) else null
        if (expected != digest) notes += "the manifest beside the model describes another file (sha256 differs); its parity is not reported"
        return ManifestSummary(
            model = manifest.model.name,
            target = manifest.target.name,
            quant = manifest.quant.scheme,
            gmacs = manifest.model.gmacs,
            parity = ParitySummary(parity?.first ?: ParityStatus.NOT_RUN, parity?.second),
        )
    }

    private fun elapsedMs(startNanos: Long): Double = (System.nanoTime() - startNanos) / 1e6

    private fun sha256(file: File): String {
        val digest = MessageDigest.getInstance("SHA-256")
        file.inputStream().use { stream ->
            val buffer = ByteArray(1 shl 20)
            while (true) {
                val read = stream.read(buffer)
                if (read < 0) break
                digest.update(buffer, 0, read)
            }
        }
        return digest.digest().joinToString("") { "%02x".format(it) }
    }
}
