// swift-tools-version:5.9
// EdgeDemoKit: everything the iOS demo does (manifest, preprocessing, Core ML and ExecuTorch
// runners, benchmark mode, SwiftUI screens). The app target in project.yml is a thin shell
// around it. ExecuTorch comes from its SwiftPM branch for the same version that exported and
// verified the .pte on the host (pyproject.toml pins executorch==1.5.1); Package.resolved records
// the exact commit after the first resolve.
import PackageDescription

let package = Package(
    name: "EdgeDemoKit",
    platforms: [
        // ExecuTorch's SwiftPM package needs iOS 17; edge's Core ML export targets iOS 17 too.
        .iOS(.v17),
    ],
    products: [
        .library(name: "EdgeDemoKit", targets: ["EdgeDemoKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/pytorch/executorch.git", branch: "swiftpm-1.5.1"),
    ],
    targets: [
        .target(
            name: "EdgeDemoKit",
            dependencies: [
                .product(name: "executorch", package: "executorch"),
                .product(name: "backend_xnnpack", package: "executorch"),
                .product(name: "kernels_optimized", package: "executorch"),
            ],
            linkerSettings: [
                // Backends and kernels register themselves from static initializers; without
                // -all_load the linker drops them and loading a .pte fails with "unregistered".
                .unsafeFlags(["-Wl,-all_load"]),
            ]
        ),
    ]
)
