import Foundation

/// Benchmark mode's side of the contract with `edge profile --device ios` (runtimes/ios.py
/// `benchmark_args` and `launch_cmd`):
///
///   xcrun devicectl device process launch --device UDID --terminate-existing --console org.edge.demo -- \
///       --edge-benchmark --model NAME --runs 50 --warmup 10 [--threads T] --output edge-record.json \
///       [--compute-units all|cpu_only|cpu_and_gpu|cpu_and_neural_engine]
///
/// NAME is a file (or .mlpackage folder) in the app's Documents; the record is written to
/// Documents/<output>, or Documents/<output>.error with one line when the run fails.
public struct BenchmarkArguments: Equatable {
    public enum Flag {
        public static let benchmark = "--edge-benchmark"
        public static let model = "--model"
        public static let runs = "--runs"
        public static let warmup = "--warmup"
        public static let threads = "--threads"
        public static let output = "--output"
        public static let computeUnits = "--compute-units"
    }

    public static let defaultOutput = "edge-record.json"
    public static let errorSuffix = ".error"

    public var model: String
    public var runs = 50
    public var warmup = 10
    public var threads: Int?
    public var output = BenchmarkArguments.defaultOutput
    public var computeUnits = ComputeUnitsChoice.all
    /// The arguments as given, for the record's runner.command.
    public var command: [String] = []

    /// nil when the app was launched normally (no --edge-benchmark); an error names the bad argument.
    public static func parse(_ arguments: [String]) throws -> BenchmarkArguments? {
        let args = Array(arguments.dropFirst())  // the executable path
        guard args.contains(Flag.benchmark) else { return nil }
        var parsed = BenchmarkArguments(model: "")
        parsed.command = args
        var index = 0
        func value(_ flag: String) throws -> String {
            index += 1
            guard index < args.count else { throw ManifestError(message: "\(flag) needs a value") }
            return args[index]
        }
        func integer(_ flag: String, minimum: Int) throws -> Int {
            let text = try value(flag)
            guard let number = Int(text), number >= minimum else {
                throw ManifestError(message: "\(flag) needs an integer >= \(minimum), got '\(text)'")
            }
            return number
        }
        while index < args.count {
            let flag = args[index]
            switch flag {
            case Flag.benchmark: break
            case Flag.model: parsed.model = try value(flag)
            case Flag.runs: parsed.runs = try integer(flag, minimum: 1)
            case Flag.warmup: parsed.warmup = try integer(flag, minimum: 0)
            case Flag.threads: parsed.threads = try integer(flag, minimum: 1)
            case Flag.output: parsed.output = try value(flag)
            case Flag.computeUnits:
                let text = try value(flag)
                guard let units = ComputeUnitsChoice(rawValue: text) else {
                    let known = ComputeUnitsChoice.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ManifestError(message: "\(flag) takes one of \(known), got '\(text)'")
                }
                parsed.computeUnits = units
            default:
                // Single-dash arguments are Apple's own (e.g. -NSDocumentRevisionsDebugMode YES from Xcode).
                if flag.hasPrefix("--") { throw ManifestError(message: "unknown benchmark argument \(flag)") }
            }
            index += 1
        }
        guard !parsed.model.isEmpty else { throw ManifestError(message: "\(Flag.model) NAME is required (a file in Documents)") }
        for name in [parsed.model, parsed.output] where name.hasPrefix("/") || name.split(separator: "/").contains("..") {
            throw ManifestError(message: "'\(name)' must be a name inside Documents")
        }
        return parsed
    }
}
