import CoreGraphics
import CoreML
import Foundation
import Vision

/// The platform path for a Core ML image classifier (`edge export --target coreml --input-form nhwc-uint8`
/// or `nhwc-float`): the package takes an image and outputs a classifier, so Vision runs it as it is, from
/// a CGImage (or CVPixelBuffer), and returns VNClassificationObservation with the package's own labels.
/// The preprocessing (scale, bias, per-channel std) is inside the package; the app only crops.
public final class VisionClassifier {
    private let request: VNCoreMLRequest
    private let centerFraction: Double

    /// `compiledURL`: the .mlmodelc (Xcode compiles a bundled .mlpackage; MLModel.compileModel otherwise).
    public init(compiledURL: URL, preprocessing: Preprocessing, computeUnits: ComputeUnitsChoice) throws {
        let configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits.mlComputeUnits
        let model = try VNCoreMLModel(for: MLModel(contentsOf: compiledURL, configuration: configuration))
        request = VNCoreMLRequest(model: model)
        // edge resizes the shorter side to resize_shorter_to and crops center_crop: the same as cropping the
        // central square of center_crop / resize_shorter_to of the shorter side, then scaling it to the input
        request.imageCropAndScaleOption = .scaleFill
        centerFraction = Double(preprocessing.centerCrop) / Double(preprocessing.resizeShorterTo)
    }

    /// The top `k` classes as Vision reports them, ranked by the package's probabilities.
    public func classify(_ image: CGImage, labels: [String]?, k: Int = 5) throws -> [RankedClass] {
        let side = Double(min(image.width, image.height)) * centerFraction
        let crop = CGRect(x: (Double(image.width) - side) / 2, y: (Double(image.height) - side) / 2, width: side, height: side)
        guard let square = image.cropping(to: crop.integral) else {
            throw ManifestError(message: "cannot crop the photo's centre")
        }
        try VNImageRequestHandler(cgImage: square, options: [:]).perform([request])
        guard let observations = request.results as? [VNClassificationObservation] else {
            throw ManifestError(message: "the package did not return classifications: export it with --input-form nhwc-uint8")
        }
        return observations.prefix(k).map { observation in
            let index = labels?.firstIndex(of: observation.identifier) ?? Int(observation.identifier) ?? -1
            return RankedClass(index: index, label: observation.identifier, probability: Double(observation.confidence))
        }
    }
}
