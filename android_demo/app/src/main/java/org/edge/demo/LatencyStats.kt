package org.edge.demo

import kotlin.math.floor
import kotlin.math.roundToLong
import kotlin.math.sqrt

/**
 * The statistics of runtimes/record.py `summarize`, computed the same way, because the harness
 * rejects a record whose numbers do not follow from its own samples: percentiles interpolate
 * linearly between closest ranks, the trimmed mean drops 10% (rounded down) at each end, the
 * standard deviation is the sample one (n - 1).
 */
object LatencyStats {
    fun round4(value: Double): Double = (value * 10_000).roundToLong() / 10_000.0

    fun percentile(sorted: List<Double>, q: Double): Double {
        val position = q / 100 * (sorted.size - 1)
        val lower = floor(position).toInt()
        val upper = minOf(lower + 1, sorted.size - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower)
    }

    fun summarize(samplesMs: List<Double>): LatencyMs {
        require(samplesMs.isNotEmpty()) { "no samples to summarize" }
        val sorted = samplesMs.sorted()
        val n = sorted.size
        val cut = (n * 0.1).toInt()
        val middle = sorted.subList(cut, n - cut)
        val mean = sorted.sum() / n
        val stdev = if (n > 1) sqrt(sorted.sumOf { (it - mean) * (it - mean) } / (n - 1)) else 0.0
        return LatencyMs(
            min = round4(sorted.first()),
            max = round4(sorted.last()),
            p10 = round4(percentile(sorted, 10.0)),
            p50 = round4(percentile(sorted, 50.0)),
            p90 = round4(percentile(sorted, 90.0)),
            mean = round4(mean),
            trimmedMean = round4(middle.sum() / middle.size),
            stdev = round4(stdev),
        )
    }
}
