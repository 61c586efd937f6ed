// swift-tools-version:6.0
// The host build of Peregrine's platform-neutral modules. The kernel itself is built by the
// Makefile (Embedded Swift, x86_64-unknown-none-elf) from these same sources plus
// Sources/Kernel and Sources/CArch, which touch hardware and are never built for the host.
import PackageDescription

let package = Package(
  name: "Peregrine",
  products: [
    .library(name: "HypervisorCore", targets: ["HypervisorCore"]),
    .executable(name: "peregrine", targets: ["PeregrineCLI"]),
  ],
  dependencies: [
    // Host-only: the `peregrine` CLI's argument parsing.
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    .target(name: "BootProtocols"),
    .target(name: "Memory"),
    .target(name: "HypervisorCore", dependencies: ["Memory"]),
    .target(name: "SVM", dependencies: ["HypervisorCore"]),
    .target(name: "VMX", dependencies: ["HypervisorCore"]),
    // Host-only: XML VM and virtual-cluster profiles, and the CLI (docs/profiles.md, docs/cli.md).
    .target(name: "PeregrineProfiles", dependencies: ["HypervisorCore"]),
    .target(
      name: "PeregrineCommands",
      dependencies: [
        "PeregrineProfiles", "ControlClient", "FaultTolerance",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(name: "PeregrineCLI", dependencies: ["PeregrineCommands"]),
    // The control protocol (docs/control-protocol.md): the kernel builds it too. Optimized
    // in debug builds as well: the CLI authenticates every datagram with this module's
    // SHA-256, which runs at under 0.5 MB/s unoptimized (72 MB/s at -O), so a debug CLI
    // spent milliseconds per 1 KiB memory datagram (docs/checkpoint.md, "Measured").
    .target(
      name: "ControlProtocol",
      swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
    .target(
      name: "ControlClient",
      dependencies: ["ControlProtocol"]),
    .target(name: "NetworkProtocols"),
    .target(name: "PCI", dependencies: ["Memory"]),
    // Host-only: fault-tolerance policies, their daemon loop, failure traces and the
    // policy simulator (docs/fault-tolerance.md).
    .target(name: "FaultTolerance"),
    .testTarget(name: "BootProtocolsTests", dependencies: ["BootProtocols"]),
    .testTarget(name: "MemoryTests", dependencies: ["Memory"]),
    .testTarget(name: "HypervisorCoreTests", dependencies: ["HypervisorCore"]),
    .testTarget(name: "SVMTests", dependencies: ["SVM"]),
    .testTarget(name: "VMXTests", dependencies: ["VMX"]),
    .testTarget(
      name: "PeregrineProfilesTests", dependencies: ["PeregrineProfiles", "HypervisorCore"]),
    .testTarget(name: "PeregrineCLITests", dependencies: ["PeregrineCommands", "FaultTolerance"]),
    .testTarget(
      name: "ControlProtocolTests",
      dependencies: ["ControlProtocol", "ControlClient"]),
    .testTarget(name: "NetworkProtocolsTests", dependencies: ["NetworkProtocols"]),
    .testTarget(name: "PCITests", dependencies: ["PCI", "Memory", "HypervisorCore"]),
    .testTarget(name: "FaultToleranceTests", dependencies: ["FaultTolerance"]),
    // A vCPU's architectural state across both backends (docs/vm-state.md).
    .testTarget(name: "ArchitecturalStateTests", dependencies: ["HypervisorCore", "SVM", "VMX"]),
    // Exit traces (docs/exit-trace.md): the format, recording, and the replay of every
    // committed trace in Traces/ through the real handlers.
    .testTarget(name: "ExitTraceTests", dependencies: ["HypervisorCore"], exclude: ["Traces"]),
  ],
  // The kernel's swiftc builds in language mode 5; the host build judges the same sources
  // the same way. The hypervisor's concurrency is per-CPU ownership, not Swift tasks.
  swiftLanguageModes: [.v5]
)
