import Foundation

/// The part of the manifest `edge export` writes beside every artifact
/// (edge/schemas/manifest.schema.json) that this app reads.
///
/// CodingKeys give the schema's keys. tests/test_demos.py parses these structs and checks every
/// property against the schema (name, type, required, enum values), so a manifest change that
/// would break decoding fails CI instead of a phone.
public struct EdgeManifest: Decodable {
    public let schema: String
    public let artifact: ManifestArtifact
    public let model: ManifestModel
    public let target: ManifestTarget
    public let quant: ManifestQuant
    public let inputs: [InputSpec]
    public let outputs: [OutputSpec]
    public let preprocessing: Preprocessing
    public let labels: [String]?
    public let parity: ManifestParity
    public let versions: [String: String]
    /// Absent in manifests written before input forms: those are nchw-float, normalized by the app.
    public let app: AppIO?
}

/// How the platform's own API feeds the artifact (Vision for a Core ML image classifier), and what the
/// artifact itself embeds for it.
public struct AppIO: Decodable {
    public let inputForm: InputForm
    public let normalization: Normalization
    public let classifier: Bool?
    public let embeddedMetadata: EmbeddedMetadata

    enum CodingKeys: String, CodingKey {
        case normalization, classifier
        case inputForm = "input_form"
        case embeddedMetadata = "embedded_metadata"
    }

    /// A package Vision can run as it is: image input, classifier output.
    public var isVisionClassifier: Bool { normalization == .imageType && classifier == true }
}

public enum InputForm: String, Decodable {
    case nchwFloat = "nchw-float"
    case nhwcFloat = "nhwc-float"
    case nhwcUint8 = "nhwc-uint8"
}

public enum Normalization: String, Decodable {
    case byApp = "by_app"
    case inGraph = "in_graph"
    case imageType = "image_type"
}

public struct EmbeddedMetadata: Decodable {
    public let kind: EmbeddedKind
    public let keys: [String]?
}

public enum EmbeddedKind: String, Decodable {
    case tfliteMetadata = "tflite_metadata"
    case onnxMetadataProps = "onnx_metadata_props"
    case coremlMetadata = "coreml_metadata"
    case pteConstantMethods = "pte_constant_methods"
}

public struct ManifestArtifact: Decodable {
    public let file: String
    public let format: ManifestFormat
    public let sha256: String
    public let sizeBytes: Int

    enum CodingKeys: String, CodingKey {
        case file, format, sha256
        case sizeBytes = "size_bytes"
    }
}

public enum ManifestFormat: String, Decodable {
    case pte, tflite, mlpackage, onnx
}

public struct ManifestModel: Decodable {
    public let name: String
    public let family: String
    public let gmacs: Double
}

public struct ManifestTarget: Decodable {
    public let name: String
    public let runtime: String
}

public struct ManifestQuant: Decodable {
    public let scheme: String
}

public struct InputSpec: Decodable {
    public let name: String
    public let shape: [Int]
    public let dtype: String
    public let layout: TensorLayout
    public let valueRange: [Double]

    enum CodingKeys: String, CodingKey {
        case name, shape, dtype, layout
        case valueRange = "value_range"
    }
}

public enum TensorLayout: String, Decodable {
    case nchw = "NCHW"
    case nhwc = "NHWC"
    case image
}

public struct OutputSpec: Decodable {
    public let name: String
    public let shape: [Int]
    public let dtype: String
    public let kind: OutputKind
}

public enum OutputKind: String, Decodable {
    case logits, tensor, label, probabilities
}

public struct Preprocessing: Decodable {
    public let color: String
    public let resizeShorterTo: Int
    public let centerCrop: Int
    public let interpolation: Interpolation
    public let scale: Double
    public let mean: [Double]
    public let std: [Double]

    enum CodingKeys: String, CodingKey {
        case color, interpolation, scale, mean, std
        case resizeShorterTo = "resize_shorter_to"
        case centerCrop = "center_crop"
    }
}

public enum Interpolation: String, Decodable {
    case bilinear, bicubic, nearest
}

public struct ManifestParity: Decodable {
    public let status: ParityStatus
    public let cosine: Double?
}

public enum ParityStatus: String, Codable {
    case passed, failed
    case notRun = "not_run"
}

public struct ManifestError: LocalizedError {
    public let message: String
    public var errorDescription: String? { message }
}

public enum ManifestReader {
    public static let schemaID = "edge.manifest/1"

    /// The `<stem>.json` beside `model` (a file or a .mlpackage folder), or nil when there is none.
    public static func beside(_ model: URL) throws -> EdgeManifest? {
        let url = model.deletingPathExtension().appendingPathExtension("json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try parse(Data(contentsOf: url), source: url.lastPathComponent)
    }

    public static func parse(_ data: Data, source: String) throws -> EdgeManifest {
        let manifest: EdgeManifest
        do {
            manifest = try JSONDecoder().decode(EdgeManifest.self, from: data)
        } catch {
            throw ManifestError(message: "\(source) is not an edge manifest this app understands: \(error)")
        }
        guard manifest.schema == schemaID else {
            throw ManifestError(message: "\(source) has schema '\(manifest.schema)'; this app reads \(schemaID). Re-export.")
        }
        guard manifest.inputs.count == 1 else {
            throw ManifestError(message: "\(source) describes \(manifest.inputs.count) inputs; the demo feeds one image tensor.")
        }
        return manifest
    }
}
