import CoreML
import PhotosUI
import SwiftUI
import UIKit

/// The classifier: pick a model (bundled or in Documents), pick or take a photo, see the top-5
/// classes with the manifest's labels and how long preprocessing and inference took.
public struct ClassifierView: View {
    @StateObject private var state = ClassifierState()
    @State private var pickerItem: PhotosPickerItem?
    @State private var showingCamera = false

    public init() {}

    public var body: some View {
        NavigationStack {
            Form {
                Section("Model") {
                    Picker("Model", selection: $state.selected) {
                        ForEach(state.choices) { Text($0.label).tag(Optional($0)) }
                    }
                    Picker("Core ML compute units", selection: $state.computeUnits) {
                        ForEach(ComputeUnitsChoice.allCases, id: \.self) { Text($0.rawValue).tag($0) }
                    }
                    Text(state.info).font(.footnote).textSelection(.enabled)
                }
                Section("Photo") {
                    PhotosPicker("Choose from library", selection: $pickerItem, matching: .images)
                    if UIImagePickerController.isSourceTypeAvailable(.camera) {
                        Button("Take a photo") { showingCamera = true }
                    }
                    if let image = state.image {
                        Image(uiImage: image).resizable().scaledToFit().frame(maxHeight: 240)
                    }
                }
                Section("Top 5") {
                    ForEach(Array(state.results.enumerated()), id: \.element.id) { rank, item in
                        HStack {
                            Text("\(rank + 1). \(item.label)")
                            Spacer()
                            Text(String(format: "%.2f%%", item.probability * 100)).monospacedDigit()
                        }
                    }
                    Text(state.timing).font(.footnote)
                }
            }
            .navigationTitle("Edge Demo")
        }
        .onAppear { state.refresh() }
        .onChange(of: state.selected) { _, choice in Task { await state.load(choice) } }
        .onChange(of: state.computeUnits) { _, _ in Task { await state.load(state.selected) } }
        .onChange(of: pickerItem) { _, item in
            Task {
                guard let data = try? await item?.loadTransferable(type: Data.self), let image = UIImage(data: data) else { return }
                await state.classify(image)
            }
        }
        .sheet(isPresented: $showingCamera) {
            CameraPicker { image in Task { await state.classify(image) } }.ignoresSafeArea()
        }
    }
}

@MainActor
final class ClassifierState: ObservableObject {
    @Published var choices: [ModelChoice] = []
    @Published var selected: ModelChoice?
    @Published var computeUnits = ComputeUnitsChoice.all
    @Published var info = ""
    @Published var image: UIImage?
    @Published var results: [RankedClass] = []
    @Published var timing = ""
    private let host = InferenceHost()

    func refresh() {
        choices = ModelCatalog.all()
        if selected == nil { selected = choices.first }
        if choices.isEmpty {
            info = "No model found. Run `edge bundle ARTIFACT --app ios` and rebuild, or copy a model and its manifest into Documents."
        }
    }

    func load(_ choice: ModelChoice?) async {
        guard let choice else { return }
        info = "Loading \(choice.label)…"
        results = []
        do {
            info = try await host.load(choice.url, computeUnits: computeUnits)
        } catch {
            info = "Cannot load \(choice.label): \(error.localizedDescription)"
        }
    }

    func classify(_ photo: UIImage) async {
        image = photo
        guard let upright = Self.upright(photo) else { timing = "Cannot read the photo's pixels."; return }
        do {
            let outcome = try await host.classify(upright)
            results = outcome.ranked
            timing = outcome.timing
        } catch {
            results = []
            timing = "Cannot classify: \(error.localizedDescription)"
        }
    }

    /// Camera photos carry their rotation as metadata; draw them upright at full pixel size.
    static func upright(_ image: UIImage) -> CGImage? {
        let format = UIGraphicsImageRendererFormat()
        format.scale = 1
        let size = CGSize(width: image.size.width * image.scale, height: image.size.height * image.scale)
        return UIGraphicsImageRenderer(size: size, format: format).image { _ in
            image.draw(in: CGRect(origin: .zero, size: size))
        }.cgImage
    }
}

/// Owns the loaded model off the main thread: runtimes are not thread-safe, and loading takes time.
actor InferenceHost {
    private var runner: ModelRunner?
    private var vision: VisionClassifier?
    private var manifest: EdgeManifest?

    func load(_ url: URL, computeUnits: ComputeUnitsChoice) async throws -> String {
        runner = nil
        vision = nil
        guard let found = try ManifestReader.beside(url) else {
            throw ManifestError(message: "\(url.lastPathComponent) has no manifest (.json) beside it; the classifier needs its preprocessing and labels")
        }
        if found.app?.isVisionClassifier == true {  // image in, classifier out: Vision runs the package as it is
            let start = DispatchTime.now()
            let compiled = url.pathExtension.lowercased() == "mlpackage" ? try await MLModel.compileModel(at: url) : url
            vision = try VisionClassifier(compiledURL: compiled, preprocessing: found.preprocessing, computeUnits: computeUnits)
            manifest = found
            return "\(found.model.name) (\(found.model.family)), coreml \(found.quant.scheme): Vision image classifier, " +
                "loaded in \(String(format: "%.1f", Clock.msSince(start))) ms (compile included)"
        }
        let loaded = try await ModelRunners.open(url, computeUnits: computeUnits, outputName: found.outputs.first?.name)
        runner = loaded.runner
        manifest = found
        var lines = [
            "\(found.model.name) (\(found.model.family)), \(found.target.name) \(found.quant.scheme), \(String(format: "%.3f", found.model.gmacs)) GMACs",
            "runtime \(loaded.runner.runtime.rawValue), loaded in \(String(format: "%.1f", loaded.loadMs)) ms",
            "export parity: \(found.parity.status.rawValue)" + (found.parity.cosine.map { String(format: ", cosine %.6f", $0) } ?? ""),
        ]
        if let units = loaded.runner.delegates.detail.computeUnits { lines.append("compute units: \(units)") }
        if let planned = loaded.runner.delegates.detail.plannedOperationsByDevice {
            lines.append("Core ML plan: " + planned.sorted { $0.key < $1.key }.map { "\($0.value) ops on \($0.key)" }.joined(separator: ", "))
        }
        if loaded.runner.runtime == .executorch, let host = found.versions["executorch"], host != ExecuTorchRunner.version {
            lines.append("warning: exported and verified with executorch \(host), running on \(ExecuTorchRunner.version)")
        }
        if found.labels == nil { lines.append("no labels in the manifest: classes are shown by index (export with --labels FILE)") }
        return lines.joined(separator: "\n")
    }

    func classify(_ image: CGImage) throws -> (ranked: [RankedClass], timing: String) {
        if let vision, let manifest {
            let start = DispatchTime.now()
            let ranked = try vision.classify(image, labels: manifest.labels)
            return (ranked, String(format: "Vision request %.2f ms (crop, scale and inference; one run)", Clock.msSince(start)))
        }
        guard let runner, let manifest else { throw ManifestError(message: "pick a model first") }
        let preStart = DispatchTime.now()
        let prepared = try ImagePreprocessor.prepare(image, manifest.preprocessing, input: manifest.inputs[0])
        let preMs = Clock.msSince(preStart)
        try runner.setInput(prepared.tensor, shape: prepared.shape)
        let runStart = DispatchTime.now()
        try runner.run()
        let runMs = Clock.msSince(runStart)
        let ranked = Classification.topK(try runner.output(), labels: manifest.labels)
        var timing = String(format: "inference %.2f ms (one run, not warmed up: use benchmark mode for numbers)\npreprocessing %.2f ms", runMs, preMs)
        if manifest.outputs.first?.kind != .logits { timing += "\noutput is not logits: softmax shown for reference only" }
        if let note = prepared.note { timing += "\nnote: \(note)" }
        return (ranked, timing)
    }
}
