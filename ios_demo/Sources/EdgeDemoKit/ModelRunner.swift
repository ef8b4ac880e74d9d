import CoreML
import Foundation

/// One loaded model in one runtime. `run` is the only call inside the timed loop.
public protocol ModelRunner: AnyObject {
    var runtime: RuntimeName { get }
    var versions: [String: String] { get }
    /// Threads the runtime uses when the app can set them; nil when the runtime decides (always, on iOS).
    var threads: Int? { get }
    /// The input shape the model itself declares.
    var declaredInputShape: [Int]? { get }
    /// Where the work runs: configured compute units and, for Core ML, what it planned per op.
    var delegates: RecordDelegates { get }

    func setInput(_ data: [Float], shape: [Int]) throws
    func run() throws
    func output() throws -> [Float]
}

/// Core ML compute units, named as they are given on the command line (`--compute-units`).
public enum ComputeUnitsChoice: String, CaseIterable {
    case all
    case cpuOnly = "cpu_only"
    case cpuAndGPU = "cpu_and_gpu"
    case cpuAndNeuralEngine = "cpu_and_neural_engine"

    var mlComputeUnits: MLComputeUnits {
        switch self {
        case .all: return .all
        case .cpuOnly: return .cpuOnly
        case .cpuAndGPU: return .cpuAndGPU
        case .cpuAndNeuralEngine: return .cpuAndNeuralEngine
        }
    }
}

/// A runner and what it took to get there: the runtime's load apart from a one-off Core ML compile.
public struct LoadedRunner {
    public let runner: ModelRunner
    public let loadMs: Double
    public let compileMs: Double?
}

public enum ModelRunners {
    public static func format(of url: URL) -> RecordFormat? {
        switch url.pathExtension.lowercased() {
        case "pte": return .pte
        case "mlpackage", "mlmodelc": return .mlpackage  // .mlmodelc: a bundled .mlpackage Xcode compiled
        default: return nil
        }
    }

    /// Loads `url`; a .mlpackage (copied into Documents) is compiled first, outside the load time,
    /// exactly as Xcode compiles a bundled one at build time.
    public static func open(_ url: URL, computeUnits: ComputeUnitsChoice, outputName: String?) async throws -> LoadedRunner {
        switch format(of: url) {
        case .pte:
            let start = DispatchTime.now()
            let runner = try ExecuTorchRunner(path: url.path)
            return LoadedRunner(runner: runner, loadMs: Clock.msSince(start), compileMs: nil)
        case .mlpackage:
            var compiled = url
            var compileMs: Double?
            if url.pathExtension.lowercased() == "mlpackage" {
                let start = DispatchTime.now()
                compiled = try await MLModel.compileModel(at: url)
                compileMs = Clock.msSince(start)
            }
            let start = DispatchTime.now()
            let runner = try CoreMLRunner(compiledURL: compiled, computeUnits: computeUnits, outputName: outputName)
            let loadMs = Clock.msSince(start)
            await runner.planComputeDevices()
            return LoadedRunner(runner: runner, loadMs: loadMs, compileMs: compileMs)
        default:
            throw ManifestError(message: "\(url.lastPathComponent): the iOS demo runs .mlpackage and .pte files (.tflite and .ort are for Android).")
        }
    }
}

enum Clock {
    static func msSince(_ start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
    }
}

/// Core ML: a compiled model (.mlmodelc) with a multi-array input, on the chosen compute units.
final class CoreMLRunner: ModelRunner {
    private let model: MLModel
    private let compiledURL: URL
    private let configuration: MLModelConfiguration
    private let computeUnits: ComputeUnitsChoice
    private let inputName: String
    private let outputName: String
    private var provider: MLFeatureProvider?
    private var prediction: MLFeatureProvider?
    private var plannedOperations: [String: Int]?

    init(compiledURL: URL, computeUnits: ComputeUnitsChoice, outputName: String?) throws {
        let configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits.mlComputeUnits
        let model = try MLModel(contentsOf: compiledURL, configuration: configuration)
        guard let input = model.modelDescription.inputDescriptionsByName.keys.sorted().first,
              let output = outputName ?? model.modelDescription.outputDescriptionsByName.keys.sorted().first else {
            throw ManifestError(message: "the Core ML model declares no input or output")
        }
        self.configuration = configuration
        self.model = model
        self.compiledURL = compiledURL
        self.computeUnits = computeUnits
        inputName = input
        self.outputName = output
    }

    let runtime = RuntimeName.coreml
    var versions: [String: String] {
        // Core ML ships with the OS: its version is the OS version.
        let os = ProcessInfo.processInfo.operatingSystemVersion
        return ["coreml": "iOS \(os.majorVersion).\(os.minorVersion).\(os.patchVersion)"]
    }
    let threads: Int? = nil
    var declaredInputShape: [Int]? {
        model.modelDescription.inputDescriptionsByName[inputName]?.multiArrayConstraint?.shape.map(\.intValue)
    }
    var delegates: RecordDelegates {
        RecordDelegates(partitions: nil, detail: DelegateDetail(computeUnits: computeUnits.rawValue,
                                                                plannedOperationsByDevice: plannedOperations))
    }

    /// What Core ML planned for each operation (iOS 17.4+): the compute units actually used, not only allowed.
    func planComputeDevices() async {
        guard #available(iOS 17.4, *) else { return }
        guard let plan = try? await MLComputePlan.load(contentsOf: compiledURL, configuration: configuration),
              case let .program(program) = plan.modelStructure,
              let main = program.functions["main"] else { return }
        var counts: [String: Int] = [:]
        for operation in main.block.operations {
            guard let usage = plan.deviceUsage(for: operation) else { continue }  // constants run nowhere
            switch usage.preferred {
            case .cpu: counts["cpu", default: 0] += 1
            case .gpu: counts["gpu", default: 0] += 1
            case .neuralEngine: counts["neural_engine", default: 0] += 1
            @unknown default: counts["other", default: 0] += 1
            }
        }
        plannedOperations = counts
    }

    func setInput(_ data: [Float], shape: [Int]) throws {
        let array = try MLMultiArray(shape: shape.map { NSNumber(value: $0) }, dataType: .float32)
        array.withUnsafeMutableBufferPointer(ofType: Float.self) { pointer, _ in
            for index in data.indices { pointer[index] = data[index] }
        }
        provider = try MLDictionaryFeatureProvider(dictionary: [inputName: MLFeatureValue(multiArray: array)])
    }

    func run() throws {
        guard let provider else { throw ManifestError(message: "setInput before run") }
        prediction = try model.prediction(from: provider)
    }

    func output() throws -> [Float] {
        guard let array = prediction?.featureValue(for: outputName)?.multiArrayValue else {
            throw ManifestError(message: "the model produced no multi-array named '\(outputName)'")
        }
        return (0..<array.count).map { array[$0].floatValue }
    }
}
