import Foundation

/// The statistics of runtimes/record.py `summarize`, computed the same way, because the harness
/// rejects a record whose numbers do not follow from its own samples: percentiles interpolate
/// linearly between closest ranks, the trimmed mean drops 10% (rounded down) at each end, the
/// standard deviation is the sample one (n - 1).
public enum LatencyStats {
    public static func round4(_ value: Double) -> Double {
        (value * 10_000).rounded() / 10_000
    }

    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let position = q / 100 * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = Swift.min(lower + 1, sorted.count - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }

    public static func summarize(_ samplesMs: [Double]) -> LatencyMs {
        precondition(!samplesMs.isEmpty, "no samples to summarize")
        let sorted = samplesMs.sorted()
        let n = sorted.count
        let cut = Int(Double(n) * 0.1)
        let middle = sorted[cut..<(n - cut)]
        let mean = sorted.reduce(0, +) / Double(n)
        let stdev = n > 1 ? (sorted.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)).squareRoot() : 0
        return LatencyMs(
            min: round4(sorted[0]),
            max: round4(sorted[n - 1]),
            p10: round4(percentile(sorted, 10)),
            p50: round4(percentile(sorted, 50)),
            p90: round4(percentile(sorted, 90)),
            mean: round4(mean),
            trimmedMean: round4(middle.reduce(0, +) / Double(middle.count)),
            stdev: round4(stdev)
        )
    }
}
