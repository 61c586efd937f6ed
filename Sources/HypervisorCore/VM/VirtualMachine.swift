/// One guest: its memory, devices, policies and vCPUs. Nothing about a VM is global: the
/// hypervisor holds a list of these, and every handler receives the VM it serves.
public final class VirtualMachine {
  public enum State: Equatable {
    case running
    case paused
    case stopped(StopReason)
  }

  public let id: Int
  public let profile: VMProfile
  public var memory = GuestMemoryMap()
  public var ports = PortDeviceTable()
  public var mmio = MMIODeviceTable()
  public var vcpus: [VirtualCPU] = []
  public var state: State = .running
  /// Host TSC at the VM's first entry and at its end: its life in cycles, for reports.
  public var firstEntryTime: UInt64?
  public var endTime: UInt64?
  public var msrPolicy = MSRPolicy()
  /// What CR0 and CR4 may hold: the backend derives CR4's bits from the guest's CPUID.
  public var controlRegisterRules = ControlRegisterRules.baseline
  /// Devices that can raise interrupts; a VM without any can never wake from HLT.
  public var hasInterruptSources = false
  /// Where every vCPU starts: the profile's real-mode entry, or what a loader (Linux) set.
  public var initialState: InitialCPUState

  public init(id: Int, profile: VMProfile) {
    self.id = id
    self.profile = profile
    initialState = .realMode(segment: profile.entrySegment, offset: profile.entryOffset)
    for index in 0..<profile.vcpuCount {
      let vcpu = VirtualCPU(index: index)
      vcpu.storm.enabled = profile.stormDetection
      vcpus.append(vcpu)
    }
    if profile.startup == .bootstrapOnly { holdApplicationProcessors() }
  }

  public var name: [UInt8] { profile.name }

  public var isStopped: Bool {
    if case .stopped = state { return true }
    return false
  }

  /// Registers the devices every VM has: the COM1 UART and the debug-exit port, and the
  /// test MMIO device.
  /// The COM1 UART, to wire its interrupt where the platform has an interrupt controller.
  public private(set) var serialPort: UART16550?

  public func installStandardDevices(console: any ConsoleSink) {
    let uart = UART16550(sink: console, vmName: name)
    serialPort = uart
    ports.register(uart, ports: 0x3F8...0x3FF)
    ports.register(DebugExitPort(), ports: 0xF4...0xF7)
    mmio.register(TestMMIODevice(), base: TestMMIODevice.defaultBase, size: 0x1000)
  }

  /// Every vCPU's statistics added together.
  public func totalStatistics() -> ExitStatistics {
    let total = ExitStatistics()
    for vcpu in vcpus { total.add(vcpu.statistics) }
    return total
  }
}
