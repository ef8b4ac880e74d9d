import ExecuTorch
import Foundation

/// ExecuTorch (.pte) with the XNNPACK delegate, through ExecuTorch's Swift API.
final class ExecuTorchRunner: ModelRunner {
    /// The `swiftpm-<version>` branch Package.swift resolves; tests/test_demos.py keeps the two equal.
    static let version = "1.5.1"

    private let module: Module
    private var input: Tensor<Float>?
    private var outputs: [Value] = []

    init(path: String) throws {
        module = Module(filePath: path)
        try module.load("forward")  // program and method now, so the first inference does not pay for them
    }

    let runtime = RuntimeName.executorch
    let versions = ["executorch-ios": ExecuTorchRunner.version]
    // ExecuTorch's Swift API has no thread setting; its threadpool sizes itself to the performance cores.
    let threads: Int? = nil

    var declaredInputShape: [Int]? {
        (try? module.methodMetadata("forward"))?.inputTensorMetadata[0]?.shape
    }

    var delegates: RecordDelegates {
        // Partition counts come from the .pte on the host (`edge profile` fills them); the backends are known here.
        let metadata = try? module.methodMetadata("forward")
        return RecordDelegates(partitions: nil, detail: DelegateDetail(computeUnits: "cpu", backends: metadata?.backendNames,
                                                                       instructions: metadata?.instructionCount))
    }

    func setInput(_ data: [Float], shape: [Int]) throws {
        input = Tensor<Float>(data, shape: shape)
    }

    func run() throws {
        guard let input else { throw ManifestError(message: "setInput before run") }
        outputs = try module.forward([input])
    }

    func output() throws -> [Float] {
        guard let tensor: Tensor<Float> = outputs.first?.tensor() else {
            throw ManifestError(message: "the program's first output is not a float tensor")
        }
        return tensor.scalars()
    }
}
