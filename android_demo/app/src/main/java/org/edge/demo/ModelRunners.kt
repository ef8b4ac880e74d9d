package org.edge.demo

import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import ai.onnxruntime.TensorInfo
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.FloatBuffer
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor
import org.tensorflow.lite.Interpreter

/**
 * One loaded model in one runtime. Loading happens in the constructor (file to ready-to-run), so
 * timing the constructor times the load; `run` is the only call inside the timed loop.
 */
interface ModelRunner : AutoCloseable {
    val runtime: RuntimeName
    val versions: Map<String, String>

    /** Threads the runtime was asked to use; null when it picks its own default. */
    val threads: Int?

    /** The input shape the runtime itself declares, or null when it does not say (ExecuTorch). */
    val declaredInputShape: List<Long>?

    fun setInput(data: FloatArray, shape: LongArray)
    fun run()
    fun output(): FloatArray
}

object ModelRunners {
    fun formatOf(file: File): RecordFormat? = when (file.extension.lowercase()) {
        "pte" -> RecordFormat.PTE
        "tflite" -> RecordFormat.TFLITE
        "ort" -> RecordFormat.ORT
        "onnx" -> RecordFormat.ONNX
        else -> null
    }

    /** Loads `file` in the runtime its format needs; `threads` 0 leaves the runtime's default. */
    fun open(file: File, threads: Int): ModelRunner = when (formatOf(file)) {
        RecordFormat.PTE -> ExecuTorchRunner(file, threads)
        RecordFormat.TFLITE -> LiteRtRunner(file, threads)
        RecordFormat.ORT, RecordFormat.ONNX -> OnnxRuntimeRunner(file, threads)
        null -> throw IllegalArgumentException(
            "${file.name}: the Android demo runs .pte, .tflite, .ort and .onnx files (a .mlpackage is for iOS).")
    }
}

/** ExecuTorch (.pte) with the XNNPACK delegate, through the executorch-android AAR. */
class ExecuTorchRunner(file: File, requestedThreads: Int) : ModelRunner {
    // LOAD_MODE_FILE reads the whole program the way the native runner (edge_bench) does, so load
    // times from the app and from `edge profile --device adb` mean the same thing.
    private val module = Module.load(file.absolutePath, Module.LOAD_MODE_FILE, requestedThreads)
    private var input: EValue? = null
    private var outputs: Array<EValue> = emptyArray()

    init {
        module.loadMethod("forward")  // otherwise the first inference would pay for it
    }

    override val runtime = RuntimeName.EXECUTORCH
    override val versions = mapOf("executorch-android" to BuildConfig.EXECUTORCH_VERSION)
    override val threads = requestedThreads.takeIf { it > 0 }
    override val declaredInputShape: List<Long>? = null

    override fun setInput(data: FloatArray, shape: LongArray) {
        input = EValue.from(Tensor.fromBlob(data, shape))
    }

    override fun run() {
        outputs = module.forward(checkNotNull(input) { "setInput before run" })
    }

    override fun output(): FloatArray = outputs.first().toTensor().getDataAsFloatArray()

    override fun close() = module.destroy()
}

/** LiteRT (.tflite) through the Interpreter API, which applies XNNPACK to float models by default. */
class LiteRtRunner(file: File, requestedThreads: Int) : ModelRunner {
    private val interpreter = Interpreter(file, Interpreter.Options().apply {
        if (requestedThreads > 0) setNumThreads(requestedThreads)
    })
    private val inputBuffer: ByteBuffer
    private val outputBuffer: ByteBuffer

    init {
        val input = interpreter.getInputTensor(0)
        val output = interpreter.getOutputTensor(0)
        inputBuffer = ByteBuffer.allocateDirect(input.numBytes()).order(ByteOrder.nativeOrder())
        outputBuffer = ByteBuffer.allocateDirect(output.numBytes()).order(ByteOrder.nativeOrder())
    }

    override val runtime = RuntimeName.LITERT
    override val versions = mapOf("litert-android" to BuildConfig.LITERT_VERSION)
    override val threads = requestedThreads.takeIf { it > 0 }
    override val declaredInputShape = interpreter.getInputTensor(0).shape().map { it.toLong() }

    override fun setInput(data: FloatArray, shape: LongArray) {
        require(shape.toList() == declaredInputShape) { "input shape ${shape.toList()} differs from the model's $declaredInputShape" }
        inputBuffer.rewind()
        inputBuffer.asFloatBuffer().put(data)
    }

    override fun run() {
        inputBuffer.rewind()
        outputBuffer.rewind()
        interpreter.run(inputBuffer, outputBuffer)
    }

    override fun output(): FloatArray {
        outputBuffer.rewind()
        val floats = outputBuffer.asFloatBuffer()
        return FloatArray(floats.remaining()).also { floats.get(it) }
    }

    override fun close() = interpreter.close()
}

/** ONNX Runtime Mobile (.ort, or a plain .onnx) on its CPU execution provider. */
class OnnxRuntimeRunner(file: File, requestedThreads: Int) : ModelRunner {
    private val environment = OrtEnvironment.getEnvironment()
    private val session: OrtSession = environment.createSession(file.absolutePath, OrtSession.SessionOptions().apply {
        if (requestedThreads > 0) {
            setIntraOpNumThreads(requestedThreads)
            setInterOpNumThreads(1)  // as the host adapter does: one graph, parallel inside ops
        }
    })
    private val inputName = session.inputNames.first()
    private var input: OnnxTensor? = null
    private var result: OrtSession.Result? = null

    override val runtime = RuntimeName.ONNXRUNTIME
    override val versions = mapOf("onnxruntime-android" to BuildConfig.ONNXRUNTIME_VERSION)
    override val threads = requestedThreads.takeIf { it > 0 }
    override val declaredInputShape = (session.inputInfo.getValue(inputName).info as TensorInfo).shape.toList()

    override fun setInput(data: FloatArray, shape: LongArray) {
        input?.close()
        input = OnnxTensor.createTensor(environment, FloatBuffer.wrap(data), shape)
    }

    override fun run() {
        result?.close()  // each run's outputs hold native memory until closed
        result = session.run(mapOf(inputName to checkNotNull(input) { "setInput before run" }))
    }

    override fun output(): FloatArray {
        val tensor = checkNotNull(result) { "run before output" }.get(0) as OnnxTensor
        val floats = tensor.floatBuffer
        return FloatArray(floats.remaining()).also { floats.get(it) }
    }

    override fun close() {
        result?.close()
        input?.close()
        session.close()
    }
}
