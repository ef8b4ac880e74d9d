package org.edge.demo

import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.os.BatteryManager
import android.os.Build
import java.io.File
import java.io.IOException

/** What the phone says about itself, in the record's device block. */
object DeviceFacts {

    fun device(temperatures: BatteryTemperature): RecordDevice {
        val model = listOf(Build.MANUFACTURER, Build.MODEL).filter { it.isNotBlank() }.joinToString(" ")
        return RecordDevice(
            kind = DeviceKind.ANDROID,
            // The adb serial is not visible to apps; the harness replaces this with it.
            name = Build.DEVICE,
            model = model.ifBlank { null },
            soc = systemOnChip(),
            cpu = cpuModel() ?: Build.SUPPORTED_ABIS.firstOrNull(),
            cores = Runtime.getRuntime().availableProcessors(),
            os = "Android ${Build.VERSION.RELEASE} (SDK ${Build.VERSION.SDK_INT})",
            batteryTempC = temperatures,
        )
    }

    /** ro.soc.* through Build (API 31+); the board platform before that, as the adb harness reports it. */
    private fun systemOnChip(): String? {
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) {
            val soc = listOf(Build.SOC_MANUFACTURER, Build.SOC_MODEL)
                .filter { it.isNotBlank() && it != Build.UNKNOWN }
                .joinToString(" ")
            if (soc.isNotBlank()) return soc
        }
        return Build.BOARD.takeIf { it.isNotBlank() && it != Build.UNKNOWN }
    }

    private fun cpuModel(): String? = try {
        File("/proc/cpuinfo").readLines()
            .firstOrNull { it.startsWith("Hardware") || it.startsWith("model name") }
            ?.substringAfter(':')?.trim()?.ifBlank { null }
    } catch (e: IOException) {
        null
    }

    /** Battery temperature in degrees Celsius from the sticky battery broadcast (reported in tenths). */
    fun batteryTempC(context: Context): Double? {
        val status = context.registerReceiver(null, IntentFilter(Intent.ACTION_BATTERY_CHANGED)) ?: return null
        val tenths = status.getIntExtra(BatteryManager.EXTRA_TEMPERATURE, Int.MIN_VALUE)
        return if (tenths == Int.MIN_VALUE) null else tenths / 10.0
    }
}

/**
 * Resident memory over load and timed runs, measured like runtimes/profile.py PeakMemory: Linux
 * lets a process reset its high-water mark (write 5 to /proc/self/clear_refs), so VmHWM afterwards
 * is this stretch's own peak. Where the reset is refused, VmHWM is the process's lifetime peak;
 * benchmark mode starts in a fresh process (`am start -S`), so little else is in it.
 */
class MemoryWindow private constructor(private val baseline: Long?, private val resetWorked: Boolean) {

    fun finish(): RecordMemory {
        val peak = statusBytes("VmHWM")
        val delta = if (peak != null && baseline != null) peak - baseline else null
        return RecordMemory(
            peakRssBytes = peak,
            baselineRssBytes = baseline,
            peakDeltaBytes = delta,
            method = if (resetWorked) "vmhwm_reset" else "vmhwm_process_lifetime",
        )
    }

    companion object {
        fun start(): MemoryWindow {
            val baseline = statusBytes("VmRSS")
            val reset = try {
                File("/proc/self/clear_refs").writeText("5")
                true
            } catch (e: IOException) {
                false
            } catch (e: SecurityException) {
                false
            }
            return MemoryWindow(baseline, reset)
        }

        private fun statusBytes(key: String): Long? = try {
            File("/proc/self/status").readLines()
                .firstOrNull { it.startsWith("$key:") }
                ?.split(Regex("\\s+"))?.getOrNull(1)?.toLongOrNull()?.times(1024)
        } catch (e: IOException) {
            null
        }
    }
}
