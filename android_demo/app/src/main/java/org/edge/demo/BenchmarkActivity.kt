package org.edge.demo

import android.app.Activity
import android.os.Bundle
import android.util.Log
import android.view.WindowManager
import android.widget.TextView
import java.io.File

/**
 * Benchmark mode: started by `am start` with the extras in BenchmarkContract, measures one model,
 * writes the profile record (or `<output>.error` with one line saying why not) and finishes.
 * The work runs on a background thread so the system never sees the UI thread blocked.
 */
class BenchmarkActivity : Activity() {

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // A screen that turns off mid-run drops the CPU into a different state; keep it on.
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        val status = TextView(this).apply { setPadding(32, 32, 32, 32) }
        setContentView(status)

        val outputName = intent.getStringExtra(BenchmarkContract.EXTRA_OUTPUT) ?: BenchmarkContract.DEFAULT_OUTPUT
        val folder = ModelStore.pushedFolder(this)
        // Remove what an earlier run left, so the harness never mistakes it for this run's result.
        if (!outputName.contains('/')) {
            File(folder, outputName).delete()
            File(folder, outputName + BenchmarkContract.ERROR_SUFFIX).delete()
        }

        Thread({
            val outcome = try {
                val request = BenchmarkRequest.fromIntent(intent, this)
                runOnUiThread { status.text = getString(R.string.benchmark_running, request.model.name) }
                val record = BenchmarkSession.run(this, request)
                RecordWriter.writeAtomically(RecordWriter.encode(record), request.output)
                Log.i(BenchmarkContract.LOG_TAG, "record written to ${request.output.absolutePath}")
                "p50 ${record.latencyMs.p50} ms over ${record.runs} runs\n${request.output.absolutePath}"
            } catch (e: Exception) {
                reportFailure(e, folder, outputName)
            } catch (e: LinkageError) {  // a runtime's native library missing for this ABI
                reportFailure(e, folder, outputName)
            }
            runOnUiThread {
                status.text = outcome
                finishAndRemoveTask()
            }
        }, "edge-benchmark").start()
    }

    /** Any failure (bad extras, missing file, runtime error) reaches the harness as one line. */
    private fun reportFailure(error: Throwable, folder: File, outputName: String): String {
        val message = "${error::class.java.simpleName}: ${error.message ?: "no message"}".lineSequence().first()
        Log.e(BenchmarkContract.LOG_TAG, message, error)
        if (!outputName.contains('/')) {
            RecordWriter.writeAtomically(message + "\n", File(folder, outputName + BenchmarkContract.ERROR_SUFFIX))
        }
        return message
    }
}
