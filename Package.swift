// swift-tools-version:6.0
// The host build of Peregrine's platform-neutral modules. The kernel itself is built by the
// Makefile (Embedded Swift, x86_64-unknown-none-elf) from these same sources plus
// Sources/Kernel and Sources/CArch, which touch hardware and are never built for the host.
import PackageDescription

let package = Package(
  name: "Peregrine",
  products: [
    .library(name: "HypervisorCore", targets: ["HypervisorCore"])
  ],
  targets: [
    .target(name: "BootProtocols"),
    .target(name: "Memory"),
    .target(name: "HypervisorCore", dependencies: ["Memory"]),
    .target(name: "SVM", dependencies: ["HypervisorCore"]),
    .target(name: "VMX", dependencies: ["HypervisorCore"]),
    .target(name: "NetworkProtocols"),
    .target(name: "PCI", dependencies: ["Memory"]),
    .testTarget(name: "BootProtocolsTests", dependencies: ["BootProtocols"]),
    .testTarget(name: "MemoryTests", dependencies: ["Memory"]),
    .testTarget(name: "HypervisorCoreTests", dependencies: ["HypervisorCore"]),
    .testTarget(name: "SVMTests", dependencies: ["SVM"]),
    .testTarget(name: "VMXTests", dependencies: ["VMX"]),
    .testTarget(name: "NetworkProtocolsTests", dependencies: ["NetworkProtocols"]),
    .testTarget(name: "PCITests", dependencies: ["PCI", "Memory"]),
  ],
  // The kernel's swiftc builds in language mode 5; the host build judges the same sources
  // the same way. The hypervisor's concurrency is per-CPU ownership, not Swift tasks.
  swiftLanguageModes: [.v5]
)
