import CryptoKit
import Foundation

/// A model the app offers: a label for the list and where it is.
public struct ModelChoice: Identifiable, Hashable {
    public let label: String
    public let url: URL
    public var id: URL { url }
}

/// Where models come from: the app bundle (put in ios_demo/Models by `edge bundle --app ios`;
/// Xcode compiled each .mlpackage into a .mlmodelc) and Documents (copied there by
/// `xcrun devicectl device copy to`, Finder or the Files app).
public enum ModelCatalog {
    public static func all() -> [ModelChoice] {
        var choices: [ModelChoice] = []
        for ext in ["mlmodelc", "pte"] {
            for url in (Bundle.main.urls(forResourcesWithExtension: ext, subdirectory: nil) ?? []).sorted(by: { $0.path < $1.path }) {
                choices.append(ModelChoice(label: "\(url.deletingPathExtension().lastPathComponent) (bundled \(ext == "pte" ? ".pte" : "Core ML"))", url: url))
            }
        }
        let documents = (try? FileManager.default.contentsOfDirectory(at: BenchmarkSession.documents, includingPropertiesForKeys: nil)) ?? []
        for url in documents.sorted(by: { $0.path < $1.path }) where ModelRunners.format(of: url) != nil {
            choices.append(ModelChoice(label: "\(url.lastPathComponent) (Documents)", url: url))
        }
        return choices
    }
}

enum FileDigest {
    static func sha256(of url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Bytes of a file, or of every regular file in a folder (.mlpackage), as the host counts them:
    /// the harness compares the two to catch an incomplete copy.
    static func size(of url: URL) throws -> Int {
        let values = try url.resourceValues(forKeys: [.isDirectoryKey, .fileSizeKey])
        guard values.isDirectory == true else { return values.fileSize ?? 0 }
        var total = 0
        let files = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey])
        while let file = files?.nextObject() as? URL {
            let info = try file.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
            if info.isRegularFile == true { total += info.fileSize ?? 0 }
        }
        return total
    }
}
