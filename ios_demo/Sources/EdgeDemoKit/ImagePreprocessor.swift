import CoreGraphics
import Foundation

/// Turns an upright photo into the model's input tensor exactly as the manifest's preprocessing
/// says: resize the shorter side, crop the centre square, scale 0-255 to 0-1, subtract mean,
/// divide by std, lay channels out as the input spec's layout. Sizes and crop offsets follow
/// torchvision's Resize(int) and CenterCrop, which produced the numbers the export verified.
public enum ImagePreprocessor {

    public struct Prepared {
        public let tensor: [Float]
        public let shape: [Int]
        public let note: String?
    }

    public static func prepare(_ image: CGImage, _ pre: Preprocessing, input: InputSpec) throws -> Prepared {
        guard pre.color == "RGB" else { throw ManifestError(message: "preprocessing color '\(pre.color)' is not supported; the app feeds RGB.") }
        let crop = pre.centerCrop
        let expected = input.layout == .nchw ? [1, 3, crop, crop] : [1, crop, crop, 3]
        guard input.shape == expected else {
            throw ManifestError(message: "input '\(input.name)' has shape \(input.shape) but a \(crop)px \(input.layout.rawValue) image is \(expected); re-export.")
        }
        let (width, height) = resizedSize(width: image.width, height: image.height, shorterTo: pre.resizeShorterTo)
        let resized = try draw(image, width: width, height: height, interpolation: pre.interpolation)
        let left = Int((Double(width - crop) / 2).rounded())
        let top = Int((Double(height - crop) / 2).rounded())
        guard width >= crop, height >= crop, let cropped = resized.cropping(to: CGRect(x: left, y: top, width: crop, height: crop)) else {
            throw ManifestError(message: "resized image \(width)x\(height) is smaller than the \(crop)px crop.")
        }
        let pixels = try rgbaBytes(cropped, size: crop)
        // Core Graphics' high-quality filter is not PIL's bicubic or bilinear; say so rather than differ silently.
        let note = pre.interpolation == .nearest ? nil : "\(pre.interpolation.rawValue) resize done with Core Graphics' high-quality filter"
        return Prepared(tensor: normalize(pixels, size: crop, pre: pre, layout: input.layout), shape: input.shape, note: note)
    }

    /// torchvision Resize(size): the shorter side becomes `size`, the longer one int(size * long / short).
    public static func resizedSize(width: Int, height: Int, shorterTo: Int) -> (Int, Int) {
        width <= height ? (shorterTo, shorterTo * height / width) : (shorterTo * width / height, shorterTo)
    }

    private static func context(width: Int, height: Int) throws -> CGContext {
        guard let context = CGContext(data: nil, width: width, height: height, bitsPerComponent: 8, bytesPerRow: width * 4,
                                      space: CGColorSpace(name: CGColorSpace.sRGB)!,
                                      bitmapInfo: CGImageAlphaInfo.premultipliedLast.rawValue) else {
            throw ManifestError(message: "cannot create a \(width)x\(height) drawing context")
        }
        return context
    }

    private static func draw(_ image: CGImage, width: Int, height: Int, interpolation: Interpolation) throws -> CGImage {
        let context = try context(width: width, height: height)
        context.interpolationQuality = interpolation == .nearest ? .none : .high
        context.draw(image, in: CGRect(x: 0, y: 0, width: width, height: height))
        guard let result = context.makeImage() else { throw ManifestError(message: "resizing the photo failed") }
        return result
    }

    private static func rgbaBytes(_ image: CGImage, size: Int) throws -> [UInt8] {
        let context = try context(width: size, height: size)
        context.draw(image, in: CGRect(x: 0, y: 0, width: size, height: size))
        guard let data = context.data else { throw ManifestError(message: "reading the photo's pixels failed") }
        let buffer = data.bindMemory(to: UInt8.self, capacity: size * size * 4)
        return Array(UnsafeBufferPointer(start: buffer, count: size * size * 4))
    }

    private static func normalize(_ rgba: [UInt8], size: Int, pre: Preprocessing, layout: TensorLayout) -> [Float] {
        let plane = size * size
        var out = [Float](repeating: 0, count: plane * 3)
        let scale = Float(pre.scale)
        let mean = pre.mean.map(Float.init)
        let invStd = pre.std.map { 1 / Float($0) }
        for i in 0..<plane {
            for c in 0..<3 {
                let value = (Float(rgba[i * 4 + c]) * scale - mean[c]) * invStd[c]
                switch layout {
                case .nchw: out[c * plane + i] = value
                case .nhwc: out[i * 3 + c] = value
                }
            }
        }
        return out
    }
}
