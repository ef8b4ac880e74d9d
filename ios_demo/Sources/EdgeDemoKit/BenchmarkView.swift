import SwiftUI
import UIKit

/// Benchmark mode's screen: runs once, writes the record (or the .error line) and ends the
/// process, because `devicectl device process launch --console` returns only when the app exits.
public struct BenchmarkView: View {
    let arguments: BenchmarkArguments?
    let argumentError: String?
    @State private var status = "Benchmark running…"

    public init(arguments: BenchmarkArguments?, argumentError: String?) {
        self.arguments = arguments
        self.argumentError = argumentError
    }

    public var body: some View {
        Text(status)
            .padding()
            .task {
                let succeeded: Bool
                if let arguments {
                    UIApplication.shared.isIdleTimerDisabled = true  // a sleeping screen changes CPU state mid-run
                    let outcome = await BenchmarkSession.runAndWrite(arguments)
                    succeeded = outcome.succeeded
                    status = outcome.message
                } else {
                    status = argumentError ?? "no benchmark arguments"
                    let errorURL = BenchmarkSession.documents.appendingPathComponent(
                        BenchmarkArguments.defaultOutput + BenchmarkArguments.errorSuffix)
                    try? RecordWriter.write(Data((status + "\n").utf8), to: errorURL)
                    succeeded = false
                }
                print("edge-benchmark: \(status)")  // shows in devicectl's --console output
                exit(succeeded ? 0 : 1)
            }
    }
}
