import HypervisorCore

/// The interrupt controllers of a VM's platform, the same for Linux and flat guests
/// (`apic=on`): GuestPlatformDevices.installInterruptControllers on the VM's clock, with the
/// PCI platform (bus 0, its windows, the MSI receiver), which needs the I/O APIC for INTx
/// and the local APICs for MSI.
enum InterruptControllers {
  static func install(in vm: VirtualMachine) {
    GuestPlatformDevices.installInterruptControllers(in: vm, clock: vm.deviceClock)
  }
}

extension VirtualMachine {
  /// The clock the VM's timed devices read: a traced VM's RecordingClock (docs/exit-trace.md),
  /// the TSC clock otherwise.
  var deviceClock: any GuestClock {
    if let recordingClock { return recordingClock }
    return TSCClock.shared
  }

  /// The calendar time its RTC reads: the node's (HostRTC), or for a traced VM its
  /// recording clock's run from the epoch, which the trace's replay rebuilds from the header
  /// (docs/exit-trace.md).
  var deviceWallClock: any WallClock {
    if let recordingClock {
      return GuestClockWallClock(
        clock: recordingClock, start: recordingClock.buildTime, epochNanoseconds: 0)
    }
    return HostRTC.wallClock
  }
}
