/// The port devices and interrupt controllers of the kernel's guest platforms, installed
/// by one piece of code for the kernel's loaders and for an exit trace's replay
/// (docs/exit-trace.md), so that a replayed exit meets the devices it met when recorded.
///
/// - Linux (`kind=linux`): PM1 power-off (ACPI §4.8.3), the 8254 PIT with port 0x61,
///   the reset ports 0xCF9 and 0x64, the RTC and CMOS RAM (0x70-0x71), the local and I/O
///   APICs.
/// - Multiboot (`kind=multiboot`): Linux's, plus the ACPI PM timer the FADT names and fw_cfg.
/// - Flat guests with `apic=on`: the interrupt controllers alone.
///
/// Every timed device reads `clock`: the kernel's TSC clock, or a traced VM's RecordingClock
/// (each local APIC then its vCPU's, `RecordingClock.forVCPU`). The RTC reads `wallClock`:
/// the node's calendar time (a replay's runs on its clock from the epoch).
public enum GuestPlatformDevices {
  public static let pm1aEvent: UInt16 = 0x600
  public static let pm1aControl: UInt16 = 0x604
  public static let softOffType: UInt8 = 5
  public static let pmTimer: UInt16 = 0x608

  public static func installLinux(
    in vm: VirtualMachine, clock: any GuestClock, wallClock: any WallClock
  ) {
    vm.ports.register(
      ACPIPowerDevice(eventBlock: pm1aEvent, controlBlock: pm1aControl, softOffType: softOffType),
      ports: pm1aEvent...(pm1aControl + 1))
    installTimerAndReset(in: vm, clock: clock)
    installClock(in: vm, wallClock: wallClock)
    installInterruptControllers(in: vm, clock: clock)
  }

  public static func installMultiboot(
    in vm: VirtualMachine, clock: any GuestClock, wallClock: any WallClock
  ) {
    vm.ports.register(
      ACPIPowerDevice(eventBlock: pm1aEvent, controlBlock: pm1aControl, softOffType: softOffType),
      ports: pm1aEvent...(pm1aControl + 1))
    let timer = ACPIPMTimer(clock: clock, port: pmTimer)
    vm.ports.register(timer, ports: pmTimer...(pmTimer + 3))
    vm.timedDevices.append(timer)
    vm.ports.register(
      FirmwareConfig(cpuCount: vm.vcpus.count, ramSize: vm.profile.memorySize),
      ports: FirmwareConfig.selectorPort...FirmwareConfig.dataPort)
    installTimerAndReset(in: vm, clock: clock)
    installClock(in: vm, wallClock: wallClock)
    let ioAPIC = installInterruptControllers(in: vm, clock: clock)
    if vm.profile.testDevice { installTestDevice(in: vm, ioAPIC: ioAPIC) }
  }

  /// `testdev=on`: the pc-testdev (ports 0xE0–0xE3, 0x2000–0x2017, I/O RAM) and an 8259
  /// pair in the state a BIOS leaves it, whose INTR reaches vCPU 0's LINT0.
  public static func installTestDevice(in vm: VirtualMachine, ioAPIC: IOAPICModel) {
    let pic = PIC8259Pair.afterFirmware()
    for ports: ClosedRange<UInt16> in [0x20...0x21, 0xA0...0xA1, 0x4D0...0x4D1] {
      vm.ports.register(pic, ports: ports)
    }
    vm.vcpus.first?.localAPIC?.externalInterrupts = pic
    for vcpu in vm.vcpus {
      vcpu.localAPIC?.endOfInterruptListener = ioAPIC
      // Shared models, reached from outside device exits: LocalAPICModel.devicesLock.
      if vm.sharesDevices { vcpu.localAPIC?.devicesLock = vm.deviceLock }
    }
    let testDevice = PCTestDevice(inputs: PlatformInterruptInputs(ioAPIC: ioAPIC, pic: pic))
    vm.ports.register(testDevice, ports: PCTestDevice.dataPorts)
    vm.ports.register(testDevice, ports: PCTestDevice.linePorts)
    vm.mmio.register(
      testDevice.ioRAM, base: PCTestDevice.ioRAMBase, size: PCTestDevice.ioRAMSize)
  }

  /// A local APIC per vCPU (APIC ID = vCPU index) on the guest clock, and the I/O APIC the
  /// MADT describes (ID after the vCPUs') with COM1 on its pin 4. Timers, IPIs and the UART
  /// can then wake a halted vCPU.
  @discardableResult
  public static func installInterruptControllers(in vm: VirtualMachine, clock: any GuestClock)
    -> IOAPICModel
  {
    for vcpu in vm.vcpus {
      var apicClock = clock
      if let recording = vm.recordingClock { apicClock = recording.forVCPU(vcpu.index) }
      vcpu.localAPIC = LocalAPICModel(id: UInt8(truncatingIfNeeded: vcpu.index), clock: apicClock)
    }
    let ioAPIC = IOAPICModel(id: UInt8(truncatingIfNeeded: vm.vcpus.count), vcpus: vm.vcpus)
    vm.mmio.register(ioAPIC, base: IOAPICModel.base, size: 0x1000)
    vm.serialPort?.interruptLine = InterruptLine(controller: ioAPIC, pin: 4)
    vm.hasInterruptSources = true
    // Bus 0 comes with the interrupt controllers: INTx needs the I/O APIC, MSI the local
    // APICs. Installed here so a replayed VM decodes configuration space as the recorded one.
    _ = PCIPlatform.install(in: vm, ioAPIC: ioAPIC)
    return ioAPIC
  }

  private static func installClock(in vm: VirtualMachine, wallClock: any WallClock) {
    vm.ports.register(
      CMOSClock(wallClock: wallClock), ports: CMOSClock.indexPort...CMOSClock.dataPort)
  }

  private static func installTimerAndReset(in vm: VirtualMachine, clock: any GuestClock) {
    let pit = PIT8254(clock: clock)
    vm.ports.register(pit, ports: 0x40...0x43)
    vm.ports.register(pit, ports: 0x61...0x61)
    vm.timedDevices.append(pit)
    vm.ports.register(ResetDevice(), ports: 0xCF9...0xCF9)
    vm.ports.register(ResetDevice(), ports: 0x64...0x64)
  }
}
