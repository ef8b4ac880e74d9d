import Foundation

/// Writes nil as JSON null. Synthesized Encodable skips nil optionals, but the profile-record
/// schema requires keys like `first_run_ms` even when their value is unknown.
@propertyWrapper
public struct NullEncoded<Value: Encodable>: Encodable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value = wrappedValue { try container.encode(value) } else { try container.encodeNil() }
    }
}

/// The profile record (runtimes/schemas/profile_record.schema.json): the same JSON shape
/// `edge profile` writes for host and Android, so `edge report` compares them directly.
/// tests/test_demos.py checks these structs field by field against the schema, checks that every
/// optional is @NullEncoded, and validates a record built from them.
public struct ProfileRecord: Encodable {
    public static let schemaID = "edge.profile_record/1"

    let schema: String
    let created: String
    let artifact: RecordArtifact
    let device: RecordDevice
    let runtime: RecordRuntime
    let runner: RecordRunner
    let loadMs: Double
    @NullEncoded var firstRunMs: Double?
    let warmup: Int
    let runs: Int
    let latencyMs: LatencyMs
    let samplesMs: [Double]
    let memory: RecordMemory
    let ops: RecordOps
    let inputs: [RecordInput]
    let notes: [String]

    enum CodingKeys: String, CodingKey {
        case schema, created, artifact, device, runtime, runner, warmup, runs, memory, ops, inputs, notes
        case loadMs = "load_ms"
        case firstRunMs = "first_run_ms"
        case latencyMs = "latency_ms"
        case samplesMs = "samples_ms"
    }
}

public struct RecordArtifact: Encodable {
    let file: String
    let path: String
    let format: RecordFormat
    let sizeBytes: Int
    @NullEncoded var sha256: String?
    @NullEncoded var manifest: ManifestSummary?

    enum CodingKeys: String, CodingKey {
        case file, path, format, sha256, manifest
        case sizeBytes = "size_bytes"
    }
}

public enum RecordFormat: String, Encodable {
    case pte, mlpackage
}

public struct ManifestSummary: Encodable {
    let model: String
    let target: String
    let quant: String
    @NullEncoded var gmacs: Double?
    let parity: ParitySummary
}

public struct ParitySummary: Encodable {
    let status: ParityStatus
    @NullEncoded var cosine: Double?
}

public struct RecordDevice: Encodable {
    let kind: DeviceKind
    let name: String
    @NullEncoded var model: String?
    @NullEncoded var soc: String?
    @NullEncoded var cpu: String?
    @NullEncoded var cores: Int?
    let os: String
}

public enum DeviceKind: String, Encodable {
    case ios
}

public struct RecordRuntime: Encodable {
    let name: RuntimeName
    let versions: [String: String]
    @NullEncoded var threads: Int?
    let delegates: RecordDelegates
}

public enum RuntimeName: String, Encodable {
    case executorch, coreml
}

public struct RecordDelegates: Encodable {
    @NullEncoded var partitions: Int?
    let detail: DelegateDetail
}

/// Free-form in the schema (`delegates.detail`): what runs where, as far as the app can see.
public struct DelegateDetail: Encodable {
    var computeUnits: String?
    var plannedOperationsByDevice: [String: Int]?
    var backends: [String]?
    var instructions: Int?

    enum CodingKeys: String, CodingKey {
        case backends, instructions
        case computeUnits = "compute_units"
        case plannedOperationsByDevice = "planned_operations_by_device"
    }
}

public struct RecordRunner: Encodable {
    let kind: RunnerKind
    let name: String
    @NullEncoded var command: [String]?
}

public enum RunnerKind: String, Encodable {
    case iosApp = "ios_app"
}

public struct LatencyMs: Encodable {
    let min: Double
    let max: Double
    let p10: Double
    let p50: Double
    let p90: Double
    let mean: Double
    let trimmedMean: Double
    let stdev: Double

    enum CodingKeys: String, CodingKey {
        case min, max, p10, p50, p90, mean, stdev
        case trimmedMean = "trimmed_mean"
    }
}

public struct RecordMemory: Encodable {
    @NullEncoded var peakRssBytes: Int?
    @NullEncoded var baselineRssBytes: Int?
    @NullEncoded var peakDeltaBytes: Int?
    let method: String

    enum CodingKeys: String, CodingKey {
        case method
        case peakRssBytes = "peak_rss_bytes"
        case baselineRssBytes = "baseline_rss_bytes"
        case peakDeltaBytes = "peak_delta_bytes"
    }
}

public struct RecordOps: Encodable {
    let available: Bool
    let reason: String
}

public struct RecordInput: Encodable {
    let name: String
    let shape: [Int]
    let dtype: String
    let source: InputSource
}

public enum InputSource: String, Encodable {
    case manifest, runtime
}

public enum RecordWriter {
    public static func encode(_ record: ProfileRecord) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(record) + Data("\n".utf8)
    }

    /// `.atomic` writes a temporary file and renames it: devicectl never copies back half a record.
    public static func write(_ data: Data, to url: URL) throws {
        try data.write(to: url, options: .atomic)
    }
}
