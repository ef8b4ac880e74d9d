import Darwin
import Foundation

/// What the phone says about itself, in the record's device block. `edge profile --device ios`
/// replaces name, model and OS with what devicectl reports and keeps the app's cores.
enum DeviceFacts {
    static func device() -> RecordDevice {
        let os = ProcessInfo.processInfo.operatingSystemVersion
        let machine = machineIdentifier()
        // Apps cannot read the UDID; the harness puts it in `name`.
        return RecordDevice(kind: .ios, name: machine ?? "iOS device", model: machine, soc: nil,
                            cpu: nil, cores: ProcessInfo.processInfo.activeProcessorCount,
                            os: "iOS \(os.majorVersion).\(os.minorVersion).\(os.patchVersion)")
    }

    /// The hardware identifier, e.g. "iPhone16,1" (uname's machine field).
    static func machineIdentifier() -> String? {
        var info = utsname()
        uname(&info)
        let identifier = withUnsafeBytes(of: &info.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return identifier.isEmpty ? nil : identifier
    }
}

/// Memory over load and timed runs. iOS offers no resettable high-water mark, but the kernel keeps
/// the peak physical footprint (what jetsam limits), and benchmark mode starts a fresh process
/// (devicectl --terminate-existing), so peak minus the footprint before the load is the model's cost.
struct MemoryWindow {
    private let baseline: Int?

    init() {
        baseline = MemoryWindow.footprint()?.current
    }

    func finish() -> RecordMemory {
        let peak = MemoryWindow.footprint()?.peak
        let delta = peak.flatMap { p in baseline.map { p - $0 } }
        return RecordMemory(peakRssBytes: peak, baselineRssBytes: baseline, peakDeltaBytes: delta,
                            method: "phys_footprint_peak")
    }

    private static func footprint() -> (current: Int, peak: Int)? {
        var info = task_vm_info_data_t()
        var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<natural_t>.size)
        let result = withUnsafeMutablePointer(to: &info) { pointer in
            pointer.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count)
            }
        }
        guard result == KERN_SUCCESS else { return nil }
        return (Int(info.phys_footprint), Int(info.ledger_phys_footprint_peak))
    }
}
