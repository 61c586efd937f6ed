import CArch

/// How a run of the hypervisor ends. Emulators are told through their exit devices so a
/// test run ends by itself with a status: QEMU's isa-debug-exit (configured at port 0xF4,
/// exit code (value << 1) | 1) and Bochs's shutdown port 0x8900.
enum Machine {
  enum Status: UInt8 {
    case success = 0
    case failure = 1
    case panic = 2
  }

  static let qemuDebugExitPort: UInt16 = 0xF4
  static let bochsShutdownPort: UInt16 = 0x8900

  static func halt(status: Status) -> Never {
    arch_cli()
    Console.write("peregrine: halted, status ")
    switch status {
    case .success: Console.write("success\n")
    case .failure: Console.write("failure\n")
    case .panic: Console.write("panic\n")
    }
    powerOff(status: status)
  }

  /// Turns the machine off. QEMU's debug-exit device goes first when a test run configured
  /// it, since it carries the status (a write to an absent device does nothing); then ACPI
  /// S5, then Bochs's shutdown port, then a halt loop (hardware without ACPI power-off).
  static func powerOff(status: Status) -> Never {
    arch_outl(qemuDebugExitPort, UInt32(status.rawValue))
    AcpiPower.enterSoftOff()
    for byte in "Shutdown".utf8 { arch_outb(bochsShutdownPort, byte) }
    while true {
      arch_cli()
      arch_hlt()
    }
  }
}
