import Synchronization

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
  /// Pages written while a migration's dirty log is on (docs/migration.md).
  public let dirtyLog = DirtyPageLog()
  /// Auto-converge's share of the time its vCPUs are held out of the CPU, 0-99 %
  /// (AutoConverge): set by a migration's source, 0 when it ends.
  public let throttlePercent = Atomic<Int>(0)
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
  /// The guest's CPUID offers RDTSCP or RDPID: IA32_TSC_AUX exists and is loaded per vCPU.
  public var switchesTimeStampCounterAuxiliary = false
  /// The guest's CPUID offers PKU: PKRU is saved and loaded per vCPU.
  public var switchesProtectionKeyRights = false
  /// The guest's CPUID offers PKS: IA32_PKRS exists and is loaded per vCPU.
  public var switchesSupervisorProtectionKeyRights = false
  /// Devices that can raise interrupts; a VM without any can never wake from HLT.
  public var hasInterruptSources = false
  /// Where every vCPU starts: the profile's real-mode entry, or what a loader (Linux) set.
  public var initialState: InitialCPUState

  /// The VM's guest-physical address space (the kernel's GuestAddressSpace: RAM, nested page
  /// tables and the frames of both), released with the VM.
  public var addressSpace: AnyObject?
  /// The vendor backend's state for this VM (its VMCBs or VMCSs, bitmaps), found without a
  /// search on every slice.
  public var backendState: AnyObject?
  /// The host CPU each vCPU was placed on (MachinePlacement), by vCPU index.
  public var hostCPUs: [Int] = []
  /// Set by the first CPU that stops the VM: exactly one CPU reports and ends it.
  public let stopClaimed = Atomic<Bool>(false)
  /// vCPUs still in some CPU's run queue; the CPU that takes the last one out releases the
  /// VM's resources, once no CPU can touch them.
  public let attachedVCPUs = Atomic<Int>(0)
  /// Serializes the VM-wide device models (ports, MMIO) between its vCPUs' CPUs. Per VM:
  /// no exit waits for another VM, and exits that touch no device never take it.
  /// The interrupt controllers' vCPU-side paths take it too (LocalAPICModel.devicesLock).
  public let deviceLock = SharedLock()
  /// More than one vCPU: device exits take `deviceLock`.
  public let sharesDevices: Bool

  // MARK: Pause (the VM manager asks; each vCPU's own CPU parks it)

  /// Set by the VM manager to pause the VM, cleared to resume it. Each vCPU's CPU parks the
  /// vCPU between slices (never in the middle of an exit) when it sees it set.
  public let pauseRequested = Atomic<Bool>(false)
  /// vCPUs parked for the current pause; the CPU that parks the last one stamps `allParkedAt`.
  public let parkedVCPUs = Atomic<Int>(0)
  /// Host TSC when the pause was requested and when its last vCPU parked.
  public let pauseRequestedAt = Atomic<UInt64>(0)
  public let allParkedAt = Atomic<UInt64>(0)
  /// Host cycles the VM spent paused, all pauses together: guest time does not advance
  /// while paused, so every vCPU's clock is set back by this (written by the manager before
  /// it clears `pauseRequested`; read by the owner CPUs after they see it clear).
  public var pausedCycles: UInt64 = 0
  /// VM-wide device models that keep time on the guest clock (the PIT): shifted on resume.
  public var timedDevices: [any GuestTimedDevice] = []
  /// The VM's saved state (`SavedVMState`, encoded), set by the CPU that parked its last
  /// vCPU for a pause, before the manager sees it paused; cleared by the manager before it
  /// resumes the VM. nil while it runs, or when a vCPU's state could not be captured.
  public var savedState: [UInt8]?
  /// The exit tracer (`trace=N`, docs/exit-trace.md); nil for an untraced VM.
  public var exitTrace: ExitTraceRecorder?
  /// Host TSC when the VM was created (uptime in reports).
  public var createdAt: UInt64 = 0
  /// No creation, stop and release reports (a test that creates hundreds of VMs).
  public var quietReports = false
  /// Frames the hypervisor took to build the VM beyond its RAM (nested page tables, VMCBs or
  /// VMCSs, permission bitmaps): the machine's free frames before and after, minus the RAM.
  public var framesBeyondRAM = 0
  /// The VM's virtual PCI bus (guest I/O: docs/guest-io.md); nil for a VM without one.
  public var pciBus: VirtualPCIBus?
  /// The VM's virtual disk, behind its virtio-blk function; nil without one.
  public var disk: DiskImage?
  /// The virtio-blk model serving `disk`, for its counters (`status`, the end report).
  public var diskDevice: VirtioBlockDevice?
  /// The PCI platform around `pciBus` (PCIPlatform: its windows, MSI receiver, attach).
  public var pciPlatform: PCIPlatform?
  /// The guest's virtual VT-d unit (`iommu=vtd`, docs/virtual-iommu.md), for its counters.
  public var virtualIOMMU: VirtualRemappingUnit?
  /// A traced VM's device clock (RecordingClock, docs/exit-trace.md); nil for every other VM,
  /// whose devices read the kernel's clock directly.
  public var recordingClock: RecordingClock?

  public init(id: Int, profile: VMProfile) {
    self.id = id
    self.profile = profile
    sharesDevices = profile.vcpuCount > 1
    initialState = .realMode(segment: profile.entrySegment, offset: profile.entryOffset)
    let awake = AwakeVCPUs(profile.vcpuCount)
    for index in 0..<profile.vcpuCount {
      let vcpu = VirtualCPU(index: index)
      vcpu.storm.enabled = profile.stormDetection
      vcpu.awakeVCPUs = awake
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

  /// Takes the VM's device models for one exit (`deviceLock`). A VM with one vCPU has
  /// nobody to share them with, and takes no lock.
  @inline(__always)
  public func lockDevices() {
    if sharesDevices { deviceLock.lock() }
  }

  @inline(__always)
  public func unlockDevices() {
    if sharesDevices { deviceLock.unlock() }
  }

  /// Every vCPU's statistics added together.
  public func totalStatistics() -> ExitStatistics {
    let total = ExitStatistics()
    for vcpu in vcpus { total.add(vcpu.statistics) }
    return total
  }
}
