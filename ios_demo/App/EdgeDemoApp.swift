import EdgeDemoKit
import SwiftUI

/// Launched normally: the classifier. Launched with --edge-benchmark (by `edge profile --device
/// ios` through devicectl): benchmark mode, which writes a profile record and exits.
@main
struct EdgeDemoApp: App {
    private let benchmark: (arguments: BenchmarkArguments?, error: String?)?

    init() {
        do {
            if let parsed = try BenchmarkArguments.parse(CommandLine.arguments) {
                benchmark = (parsed, nil)
            } else {
                benchmark = nil
            }
        } catch {
            benchmark = (nil, error.localizedDescription)
        }
    }

    var body: some Scene {
        WindowGroup {
            if let benchmark {
                BenchmarkView(arguments: benchmark.arguments, argumentError: benchmark.error)
            } else {
                ClassifierView()
            }
        }
    }
}
