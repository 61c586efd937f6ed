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
  /// The vCPUs placed on this CPU (Scheduler), in round-robin order.
  var runQueue: [ScheduledVCPU] = []
  /// What CPUID says about this CPU's place in the topology, read on the CPU itself.
  var cpuidSnapshot: CPUIDSnapshot?
  /// vCPUs placed here whose adoption message is still in the inbox (placement's load).
  var pendingAdoptions = 0
  /// Set by the scheduler for each slice: another runnable vCPU of the same VM waits for
  /// this core, so a spin-wait (PAUSE) may be waiting for it; the backends intercept PAUSE
  /// only then (PauseLoopDetector decides when to give the core up).
  var interceptsPause = false
  /// Where round robin continues.
  var nextInQueue = 0
  /// Other CPUs' requests to this one (new work): the lock guards `posted`; `hasPosted`
  /// lets the kick handler see there is mail without taking it.
  let inboxLock = TicketLock()
  var posted: [CPUMessage] = []
  let hasPosted = Atomic<Bool>(false)
  /// What the CPU does now, for kicks: only a CPU in a guest or asleep needs an IPI.
  let activity = Atomic<UInt8>(CPUActivity.busy.rawValue)
  /// vCPUs in the run queue whose VM has not ended, published for other CPUs deciding
  /// whether to move a vCPU here.
  let queueLength = Atomic<Int>(0)
  /// Host TSC when it last passed the top of its scheduler loop (node health).
  let heartbeat = Atomic<UInt64>(0)
  /// Shared vCPUs this CPU gave to idle CPUs.
  var migrationsOut: UInt64 = 0
  /// Kick IPIs sent to this CPU, and the times it slept in HLT: for the bench.
  let kicksReceived = Atomic<UInt64>(0)
  var sleeps: UInt64 = 0
  /// Cycles in the host's handlers of external interrupts (InterruptRouting), for the time
  /// a vCPU spends outside its guest (OutsideGuestClock).
  var interruptCycles: UInt64 = 0
  /// VT-x: the VMCS current on this CPU (VMPTRLD), 0 for none; a VMCS active elsewhere is
  /// VMCLEARed there before it is loaded here (SDM 3C §24.11.1).
  var currentVMCS: UInt64 = 0
  /// This CPU's machine-check banks (MachineCheckPolling): written by this CPU, read by
  /// CPU 0 for node-info, both under the lock. nil: no MCA.
  let machineCheckLock = TicketLock()
  var machineChecks: MachineCheckMonitor?
  /// Host TSC of the next poll of its banks.
  var machineCheckPollDue: UInt64?

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
    cpuidSnapshot = CPUIDSnapshot.capture { leaf, subleaf in
      let r = arch_cpuid(leaf, subleaf)
      return CPUIDLeaf(eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx)
    }
    descriptors.load()
    interrupts.installStubs(codeSelector: CPUDescriptorTables.codeSelector)
    interrupts.load()
  }

  /// Leaves `message` in this CPU's inbox and wakes it.
  func post(_ message: CPUMessage) {
    inboxLock.withLock {
      posted.append(message)
      hasPosted.store(true, ordering: .sequentiallyConsistent)
    }
    HostKicker.wake(self)
  }

  func takePosted() -> [CPUMessage] {
    guard hasPosted.load(ordering: .acquiring) else { return [] }
    return inboxLock.withLock {
      defer {
        posted.removeAll()
        hasPosted.store(false, ordering: .releasing)
      }
      return posted
    }
  }

  var currentActivity: CPUActivity {
    CPUActivity(rawValue: activity.load(ordering: .sequentiallyConsistent)) ?? .busy
  }

  func setActivity(_ new: CPUActivity) {
    activity.store(new.rawValue, ordering: .sequentiallyConsistent)
  }
}

/// A CPU's state as kicks see it.
enum CPUActivity: UInt8 {
  /// In the hypervisor, between slices: it looks at its inbox and requests before it enters
  /// a guest or sleeps, so it needs no IPI.
  case busy
  /// Running a vCPU's slice: an IPI makes the guest exit.
  case guest
  /// Asleep in HLT: an IPI wakes it.
  case idle
}

/// A vCPU in a run queue, with its VM.
struct ScheduledVCPU {
  let vm: VirtualMachine
  let vcpu: VirtualCPU
}

/// What one CPU asks of another through its inbox.
enum CPUMessage {
  /// Run this vCPU from now on (placement or a move between CPUs). On VT-x its VMCS was
  /// cleared by the CPU that gave it away.
  case adopt(ScheduledVCPU)
  /// Look at the run queue again now: a parked vCPU here may run again (unpause), even if
  /// the vCPU in the guest would not give the core up by itself.
  case reschedule
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
