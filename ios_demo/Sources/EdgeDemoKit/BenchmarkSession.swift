import Foundation

/// The protocol of `edge profile` (runtimes/profile.py): load timed apart, then warm-up and timed
/// runs back to back on one fixed input, memory over load and runs, statistics from the samples.
public enum BenchmarkSession {

    public static var documents: URL {
        FileManager.default.urls(for: .documentDirectory, in: .userDomainMask)[0]
    }

    /// Runs benchmark mode end to end: the record, or `<output>.error` with one line, in Documents.
    /// Returns a line for the screen.
    public static func runAndWrite(_ arguments: BenchmarkArguments) async -> (succeeded: Bool, message: String) {
        let recordURL = documents.appendingPathComponent(arguments.output)
        let errorURL = documents.appendingPathComponent(arguments.output + BenchmarkArguments.errorSuffix)
        // What an earlier run left must never pass for this run's result.
        try? FileManager.default.removeItem(at: recordURL)
        try? FileManager.default.removeItem(at: errorURL)
        do {
            let record = try await run(arguments)
            try RecordWriter.write(try RecordWriter.encode(record), to: recordURL)
            return (true, "p50 \(record.latencyMs.p50) ms over \(record.runs) runs → Documents/\(arguments.output)")
        } catch {
            let line = "\(error.localizedDescription)".split(separator: "\n").first.map(String.init) ?? "failed"
            try? RecordWriter.write(Data((line + "\n").utf8), to: errorURL)
            return (false, line)
        }
    }

    static func run(_ arguments: BenchmarkArguments) async throws -> ProfileRecord {
        let url = documents.appendingPathComponent(arguments.model)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ManifestError(message: "Documents/\(arguments.model) does not exist; copy it there first (devicectl device copy to)")
        }
        guard let format = ModelRunners.format(of: url) else {
            throw ManifestError(message: "\(url.lastPathComponent): benchmark mode runs .mlpackage and .pte files")
        }
        var notes: [String] = []
        let manifest = try ManifestReader.beside(url)
        if manifest == nil { notes.append("no manifest beside the model: input shape from the model, values in [0, 1]") }
        let digest: String? = try format == .pte ? FileDigest.sha256(of: url) : nil  // a folder has no single file hash
        let sizeBytes = try FileDigest.size(of: url)
        if let requested = arguments.threads {
            notes.append("--threads \(requested) not applied: neither Core ML nor ExecuTorch's Swift API sets a thread count")
        }

        let memory = MemoryWindow()
        let loaded = try await ModelRunners.open(url, computeUnits: arguments.computeUnits,
                                                 outputName: manifest?.outputs.first?.name)
        let runner = loaded.runner
        if let compileMs = loaded.compileMs {
            notes.append(String(format: "Core ML compiled the .mlpackage on the device in %.1f ms (not in load_ms; Xcode does it at build time for bundled models)", compileMs))
        }
        let (input, data) = try benchmarkInput(manifest: manifest, runner: runner)
        try runner.setInput(data, shape: input.shape)
        var samples: [Double] = []
        samples.reserveCapacity(arguments.runs)
        var firstRunMs: Double?
        for index in 0..<(arguments.warmup + arguments.runs) {
            let start = DispatchTime.now()
            try runner.run()
            let ms = Clock.msSince(start)
            if firstRunMs == nil { firstRunMs = ms }
            if index >= arguments.warmup { samples.append(LatencyStats.round4(ms)) }
        }
        let memoryUsed = memory.finish()
        notes.append(contentsOf: computeNotes(runner.delegates.detail))
        notes.append("measured by the iOS demo app's benchmark mode")

        return ProfileRecord(
            schema: ProfileRecord.schemaID,
            created: ISO8601DateFormatter().string(from: Date()),
            artifact: RecordArtifact(file: url.lastPathComponent, path: url.path, format: format,
                                     sizeBytes: sizeBytes, sha256: digest,
                                     manifest: manifest.map { summary($0, digest: digest) }),
            device: DeviceFacts.device(),
            runtime: RecordRuntime(name: runner.runtime, versions: runner.versions, threads: runner.threads,
                                   delegates: runner.delegates),
            runner: RecordRunner(kind: .iosApp, name: "EdgeDemo benchmark mode", command: arguments.command),
            loadMs: LatencyStats.round4(loaded.loadMs),
            firstRunMs: firstRunMs.map(LatencyStats.round4),
            warmup: arguments.warmup,
            runs: arguments.runs,
            latencyMs: LatencyStats.summarize(samples),
            samplesMs: samples,
            memory: memoryUsed,
            ops: RecordOps(available: false, reason: "the demo app does not collect a per-op profile"),
            inputs: [input],
            notes: notes
        )
    }

    /// Seeded uniform values in the manifest's value range, checked against what the model declares.
    private static func benchmarkInput(manifest: EdgeManifest?, runner: ModelRunner) throws -> (RecordInput, [Float]) {
        let declared = runner.declaredInputShape
        let input: RecordInput
        var range = (0.0, 1.0)
        if let spec = manifest?.inputs.first {
            guard spec.dtype == "float32" else { throw ManifestError(message: "input '\(spec.name)' is \(spec.dtype); benchmark mode feeds float32") }
            if let declared, declared != spec.shape {
                throw ManifestError(message: "the manifest gives input shape \(spec.shape) but the model takes \(declared); the manifest belongs to another export")
            }
            input = RecordInput(name: spec.name, shape: spec.shape, dtype: spec.dtype, source: .manifest)
            range = (spec.valueRange[0], spec.valueRange[1])
        } else {
            guard let declared else { throw ManifestError(message: "the model does not declare its input shape; copy its manifest (.json) beside it") }
            input = RecordInput(name: "input_0", shape: declared, dtype: "float32", source: .runtime)
        }
        var generator = SeededGenerator(seed: 0)
        let count = input.shape.reduce(1, *)
        let data = (0..<count).map { _ in Float(Double.random(in: range.0...range.1, using: &generator)) }
        return (input, data)
    }

    private static func summary(_ manifest: EdgeManifest, digest: String?) -> ManifestSummary {
        // A .pte is matched by hash; a .mlpackage folder is trusted by name, as the host does.
        let matches = digest == nil || digest == manifest.artifact.sha256
        return ManifestSummary(model: manifest.model.name, target: manifest.target.name, quant: manifest.quant.scheme,
                               gmacs: manifest.model.gmacs,
                               parity: ParitySummary(status: matches ? manifest.parity.status : .notRun,
                                                     cosine: matches ? manifest.parity.cosine : nil))
    }

    /// The compute units in words too, so they show in `edge profile`'s summary.
    private static func computeNotes(_ detail: DelegateDetail) -> [String] {
        guard let units = detail.computeUnits else { return [] }
        var line = "compute units: \(units)"
        if let planned = detail.plannedOperationsByDevice {
            line += "; Core ML planned " + planned.sorted { $0.key < $1.key }.map { "\($0.value) ops on \($0.key)" }.joined(separator: ", ")
        }
        return [line]
    }
}

/// SplitMix64: a fixed seed gives the same inputs on every run and every phone.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
