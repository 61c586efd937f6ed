import CArch
import HypervisorCore
import Synchronization

/// One physical processor's own state: its descriptor tables and stacks, its time-slice
/// timer, its run queue and the backend's per-CPU processor object (VMXON region or SVM
/// host save area, ASIDs). Only this CPU writes it, except `inbox`, which other CPUs post
/// to. Reached through GS (`CPUs.current`), never through a global.
final class PhysicalCPU {
  /// Dense CPU number, in MADT order: 0 is the bootstrap processor.
  let index: Int
  let apicID: UInt32
  /// The GS-addressed record (arch.h CPULocalArea) that points back at this object.
  let localArea: UnsafeMutablePointer<CPULocalArea>
  var descriptors: CPUDescriptorTables
  var interrupts: InterruptDescriptorTable
  /// The hypervisor stack: [bottom, top), with an unmapped guard page below `bottom`.
  var stack: (bottom: UInt64, top: UInt64)
  var timer = SliceTimer()
  /// Set once the CPU runs its scheduler.
  let online = Atomic<Bool>(false)
  /// The vendor backend's per-CPU object (SVMProcessor or VMXProcessor).
  var processor: AnyObject?
  /// The vCPUs placed on this CPU (Placement, Scheduler).
  var runQueue: [VirtualCPU] = []
  /// Other CPUs' requests to this one (new work, VMs to stop): the lock guards `posted`.
  let inboxLock = TicketLock()
  var posted: [CPUMessage] = []
  /// The vCPU in guest mode here right now, for kicks: its `VirtualCPU.hostCPU` says the same.
  var running: VirtualCPU?
  /// VT-x: the VMCS current on this CPU (VMPTRLD), 0 for none; a VMCS active elsewhere is
  /// VMCLEARed there before it is loaded here (SDM 3C §24.11.1).
  var currentVMCS: UInt64 = 0

  init(
    index: Int, apicID: UInt32, localArea: UnsafeMutablePointer<CPULocalArea>,
    stack: (bottom: UInt64, top: UInt64)
  ) {
    self.index = index
    self.apicID = apicID
    self.localArea = localArea
    self.stack = stack
    descriptors = CPUDescriptorTables()
    interrupts = InterruptDescriptorTable()
    localArea.pointee.index = UInt64(index)
    localArea.pointee.apic_id = UInt64(apicID)
    localArea.pointee.stack_top = stack.top
  }

  /// Makes this object the one `CPUs.current` returns on the calling CPU, and loads its
  /// descriptor tables. Runs on the CPU itself.
  func becomeCurrent() {
    localArea.pointee.cpu = UInt64(UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque()))
    descriptors.load()
    interrupts.installStubs(codeSelector: CPUDescriptorTables.codeSelector)
    interrupts.load()
  }

  func post(_ message: CPUMessage) {
    inboxLock.withLock { posted.append(message) }
  }

  func takePosted() -> [CPUMessage] {
    inboxLock.withLock {
      defer { posted.removeAll() }
      return posted
    }
  }
}

/// What one CPU asks of another through its inbox.
enum CPUMessage {
  /// Run this vCPU from now on (placement or a move between CPUs).
  case adopt(VirtualCPU)
}

/// Every CPU the hypervisor runs on. `all` is filled by the bootstrap processor before the
/// others start and never changes afterwards, so reading it needs no lock.
enum CPUs {
  static var all: [PhysicalCPU] = []

  /// The calling CPU's block: one GS-relative load.
  @inline(__always)
  static var current: PhysicalCPU {
    Unmanaged<PhysicalCPU>.fromOpaque(
      UnsafeRawPointer(bitPattern: UInt(arch_cpu_local_object()))!
    ).takeUnretainedValue()
  }

  /// The calling CPU's number; valid from the first instruction of kmain (GS base is set by
  /// the boot stub and the AP trampoline).
  @inline(__always)
  static var currentIndex: Int { Int(arch_cpu_local_index()) }

  static var onlineCount: Int { all.filter { $0.online.load(ordering: .acquiring) }.count }
}
