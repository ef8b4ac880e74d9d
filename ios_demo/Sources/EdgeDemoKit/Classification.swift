import Foundation

/// One ranked class: its index, its label from the manifest (or "class N"), and its probability.
public struct RankedClass: Identifiable {
    public let index: Int
    public let label: String
    public let probability: Double
    public var id: Int { index }
}

public enum Classification {
    /// Softmax over logits (shifted by the max so exp cannot overflow), then the k most probable classes.
    public static func topK(_ logits: [Float], labels: [String]?, k: Int = 5) -> [RankedClass] {
        guard let maximum = logits.max() else { return [] }
        let exps = logits.map { exp(Double($0 - maximum)) }
        let total = exps.reduce(0, +)
        return exps.indices
            .sorted { exps[$0] > exps[$1] }
            .prefix(k)
            .map { index in
                let label = labels.flatMap { index < $0.count ? $0[index] : nil } ?? "class \(index)"
                return RankedClass(index: index, label: label, probability: exps[index] / total)
            }
    }
}
