import Synchronization

/// One virtual processor. Its register file lives in memory the world switch reads and
/// writes directly (boot/*_world_switch.asm), so entering the guest copies nothing.
///
/// Ownership across CPUs: a vCPU's state (`state`, `pendingEvent`, `startupState`, its
/// registers and its `localAPIC`) is read and written only by the physical CPU that runs
/// the vCPU. Everything another CPU or another vCPU does to it (an IPI, an I/O APIC
/// interrupt, a TLB flush, INIT and SIPI, stopping its VM) goes through `post`,
/// `postInterrupt` or `postStartup`, which set atomic request bits and kick the owning CPU;
/// that CPU applies them with `VCPURequests.drain` before its next entry.
public final class VirtualCPU {
  public enum State: Equatable {
    case runnable
    /// HLT with interrupts enabled: waits for an interrupt.
    case halted
    /// Wait-for-SIPI (SDM 3A §9.4.3): after INIT, or an application processor that has not
    /// been started; only a start-up IPI makes it runnable.
    case waitingForStartup
    /// HLT with interrupts disabled, or its VM ended: never runs again.
    case stopped
  }

  public let index: Int
  /// The world switch's view: GuestRegisters, then (from `floatingPointOffset`) the guest's
  /// 512-byte FXSAVE image.
  public let registerFile: UnsafeMutableRawPointer
  public static let floatingPointOffset = 160
  /// The guest's CR2 on VMX, which the VMCS does not hold (SDM 3C §25.4.1): the world switch
  /// saves it after each exit and loads it before entry (boot/vmx_world_switch.asm). SVM
  /// keeps CR2 in the VMCB and leaves this slot alone.
  public static let faultAddressOffset = 144
  public static let registerFileSize = floatingPointOffset + 512
  public var pendingEvent: PendingEvent?
  /// NMI blocking, where the backend tracks it in software (SVM).
  public var nmiBlocking = NMIBlocking()
  public var state: State = .runnable
  public let statistics = ExitStatistics()
  public var storm = ExitStormDetector()
  public var codeCache = CodePageCache()
  /// Counts the walks that filled `codeCache`, so its copy in the world switch's fast path
  /// (exit_fast_path.h) is renewed with one compare. Kept outside the cache: reading a field
  /// of the cache from the run loop copied the whole struct (a memcpy per exit).
  public var codeCacheGeneration: UInt64 = 0
  /// The length the dispatcher found for the current instruction exit when the hardware
  /// reported none (SVM without NRIPS); 0 when none is pending. InstructionCompletion
  /// consumes it.
  public var checkedInstructionLength: UInt8 = 0
  /// This vCPU's local APIC, where the VM's platform has one (Linux guests).
  public var localAPIC: LocalAPICModel? {
    didSet { placeLocalAPIC() }
  }
  /// MMIO devices each vCPU has its own of (the local APIC, at its IA32_APIC_BASE): looked
  /// up before the VM's table, so a relocated APIC page shadows whatever is there.
  public private(set) var localDevices = MMIODeviceTable()

  /// Puts the local APIC's page where its IA32_APIC_BASE says (SDM 3A §11.4.5): after the
  /// guest wrote the MSR and after a restore. Owner CPU only (its exits read the table).
  public func placeLocalAPIC() {
    localDevices = MMIODeviceTable()
    if let localAPIC { localDevices.register(localAPIC, base: localAPIC.mmioBase, size: 0x1000) }
  }
  /// KVM's paravirtual EOI, once the guest enables it (MSR 0x4B56_4D04).
  public var paravirtualEOI = ParavirtualEOI()
  /// MSRs the policy lets the guest keep that no vendor state holds.
  public var shadowMSRs: [(index: UInt32, value: UInt64)] = []
  /// EFER bits the guest wrote that its vendor state does not hold yet: SVM keeps EFER.LME
  /// out of the VMCB while the guest's CR0.PG = 0 and holds it here until paging turns on
  /// (SVMGuestState, docs/hardening.md). Part of the vCPU's architectural state: the guest
  /// reads EFER as the vendor state's value with these bits added.
  public var deferredEFER: UInt64 = 0
  /// IA32_TSC_AUX as the guest wrote it (bits 31:0; 0 at reset, SDM Vol 4 Table 2-2). Neither
  /// the VMCB nor the VMCS holds it: the kernel loads it into the processor's MSR for the
  /// vCPU's slices (GuestAuxiliaryRegisters), where RDTSCP and RDPID read it without exiting.
  public private(set) var timeStampCounterAuxiliary: UInt64 = 0
  /// PKRU, the protection-key rights for user pages (SDM 3A §4.6.2; 0 at reset). The guest
  /// writes it with WRPKRU, which does not exit: the kernel saves it from the processor at
  /// the end of each slice and loads it at the start of the next (GuestAuxiliaryRegisters).
  public var protectionKeyRights: UInt32 = 0
  /// IA32_PKRS, the protection-key rights for supervisor pages (SDM 3A §4.6.2; 0 at reset).
  /// Only WRMSR writes it, which exits: the kernel loads it for the vCPU's slices.
  public var supervisorProtectionKeyRights: UInt32 = 0
  /// TSC_AUX, PKRU or PKRS changed while the processor held the old value: load them before the
  /// next entry (VCPURequest.loadAuxiliaryRegisters). Owner CPU only.
  public var auxiliaryRegistersStale = false

  /// The physical CPU whose run queue holds this vCPU, -1 while it has none. Kicks go there.
  public let hostCPU = Atomic<Int>(-1)
  /// Its CPU is in one of its slices (the scheduler sets it around the backend's run): a
  /// request posted while it is clear is drained before the vCPU next enters the guest.
  /// The dirty log waits on it for a TLB flush (docs/migration.md).
  public let inSlice = Atomic<Bool>(false)
  /// Host TSC before which its CPU does not run it (auto-converge's hold, AutoConverge).
  public var throttledUntil: UInt64 = 0
  /// PAUSE exits on a shared core: a spin-wait longer than its window yields the core.
  public var pauseLoop = PauseLoopDetector()
  /// A TLB flush of the VM's guest-physical translations is due before the next entry
  /// (a `.flushTLB` request was drained). Touched only by the vCPU's own CPU.
  public var tlbFlushPending = false
  /// Pending `VCPURequest` bits: set by any CPU (`post`), taken by the owning CPU.
  public let requests = Atomic<UInt32>(0)
  /// NMIs posted since the last drain (the `.nmi` request bit alone would merge two). Each
  /// post counts before it sets the bit, so a drain that finds the bit finds the count; a
  /// drain may take a count whose bit is set after it, and the next drain then finds 0.
  public let postedNMIs = Atomic<UInt32>(0)
  /// Vectors posted by other CPUs, moved into the APIC's IRR when drained.
  public let postedInterrupts = PostedInterrupts()
  private let postedStartupVector = Atomic<UInt8>(0)
  /// Kicks the CPU that runs this vCPU after a post; set by the kernel before the vCPU first
  /// runs and not changed while other CPUs may post (nil: no kick, as in host tests).
  public var kicker: (any VCPUKicker)?
  /// Set when a start-up IPI ended wait-for-SIPI: the backend loads it into the VMCB/VMCS
  /// before the next entry and clears it. Owner CPU only.
  public var startupState: InitialCPUState?
  /// The VM's count of vCPUs that can still run (AwakeVCPUs); nil in host tests that need
  /// none. Set when the VM is built.
  public var awakeVCPUs: AwakeVCPUs?
  /// Set by the owner CPU when nothing can wake this vCPU (`noteAsleep`), cleared by a post.
  let judgedAsleep = Atomic<Bool>(false)
  /// Its VM is paused and this vCPU has left the guest for it: the scheduler does not run
  /// it (VM manager, pause). Owner CPU only.
  public var parked = false
  /// How much of the VM's paused time (`VirtualMachine.pausedCycles`) this vCPU's clock
  /// has already been set back by (TSC offset, APIC timer). Owner CPU only.
  public var appliedPauseShift: UInt64 = 0
  /// Its state as its own CPU captured it when it parked (from the VMCB or the VMCS, which
  /// on VT-x is current only there); nil while it is not parked, or when capture failed.
  public var pausedState: SavedVMState.VCPU?
  /// An incoming VM's record for this vCPU (`restoreState`, docs/checkpoint.md): set by the
  /// VM manager while the vCPU is parked, applied and cleared by its own CPU as it unparks it.
  public var incomingState: SavedVMState.VCPU?
  /// Host cycles spent in this vCPU's slices (guest time and its exits): a paused vCPU adds
  /// none. Written by the owner CPU, read by reports.
  public var sliceCycles: UInt64 = 0
  /// The last events of this vCPU (exits, slices, HLT decisions, posts, drains), dumped
  /// when its VM stops abnormally (docs/smp.md, "Flight recorder").
  public let flight = FlightRecorder()

  public init(index: Int) {
    self.index = index
    registerFile = .allocate(byteCount: Self.registerFileSize, alignment: 64)
    registerFile.initializeMemory(as: UInt8.self, repeating: 0, count: Self.registerFileSize)
    registerFile.initializeMemory(as: GuestRegisters.self, repeating: GuestRegisters(), count: 1)
    // A valid initial FXSAVE image (SDM 1 §10.5.1): FCW = 0x37F, MXCSR = 0x1F80, as after FNINIT.
    let floatingPoint = registerFile + Self.floatingPointOffset
    floatingPoint.storeBytes(of: UInt16(0x037F), as: UInt16.self)
    floatingPoint.storeBytes(of: UInt32(0x1F80), toByteOffset: 24, as: UInt32.self)
  }

  deinit { registerFile.deallocate() }

  public var registers: GuestRegisters {
    get { registerFile.assumingMemoryBound(to: GuestRegisters.self).pointee }
    _modify { yield &registerFile.assumingMemoryBound(to: GuestRegisters.self).pointee }
    set { registerFile.assumingMemoryBound(to: GuestRegisters.self).pointee = newValue }
  }

  /// The VMX guest's CR2 (see `faultAddressOffset`).
  public var faultAddress: UInt64 {
    get { registerFile.load(fromByteOffset: Self.faultAddressOffset, as: UInt64.self) }
    set {
      registerFile.storeBytes(of: newValue, toByteOffset: Self.faultAddressOffset, as: UInt64.self)
    }
  }

  // MARK: Requests from other CPUs

  /// Posts `request` (atomic OR) and kicks the vCPU's CPU. Safe from any CPU. An NMI is
  /// also counted (`postedNMIs`): two posted before one drain are two NMIs.
  public func post(_ request: VCPURequest) {
    flight.note(.post, detail: UInt64(request.rawValue), value: 0x100)
    postQuietly(request)
  }

  /// `post` without its flight record (the caller made one).
  func postQuietly(_ request: VCPURequest) {
    if request.contains(.nmi) { postedNMIs.wrappingAdd(1, ordering: .sequentiallyConsistent) }
    requests.bitwiseOr(request.rawValue, ordering: .sequentiallyConsistent)
    wakeIfJudgedAsleep()
    kicker?.kick(self)
  }

  /// Posts an interrupt with `vector` (to the APIC's IRR when drained). Safe from any CPU.
  public func postInterrupt(vector: UInt8) {
    flight.note(.post, detail: UInt64(VCPURequest.interrupt.rawValue), value: UInt64(vector))
    postedInterrupts.set(vector)
    postQuietly(.interrupt)
  }

  /// Posts a start-up IPI with `vector`. Safe from any CPU. Of two SIPIs posted before one
  /// drain the later vector wins, which is harmless: the second is ignored architecturally
  /// once the first started the vCPU (§9.4.3 sends the same vector twice).
  public func postStartup(vector: UInt8) {
    postedStartupVector.store(vector, ordering: .releasing)
    post(.startup)
  }

  /// The vector of the last start-up IPI posted.
  public var startupVector: UInt8 { postedStartupVector.load(ordering: .acquiring) }

  /// Takes every pending request at once (atomic exchange with 0). Owner CPU only.
  public func takeRequests() -> VCPURequest {
    VCPURequest(rawValue: requests.exchange(0, ordering: .acquiring))
  }

  /// Whether any request waits (one relaxed load).
  @inline(__always)
  public var hasRequests: Bool { requests.load(ordering: .relaxed) != 0 }

  /// Sets IA32_TSC_AUX and has the owner CPU load it before the next entry. Owner CPU only.
  public func setTimeStampCounterAuxiliary(_ value: UInt64) {
    timeStampCounterAuxiliary = value
    markAuxiliaryRegistersStale()
  }

  /// TSC_AUX or PKRU must be loaded again before the next entry: the request bit makes the
  /// run loop's request check (already made on every entry) take its rare path. Owner CPU only.
  public func markAuxiliaryRegistersStale() {
    auxiliaryRegistersStale = true
    requests.bitwiseOr(VCPURequest.loadAuxiliaryRegisters.rawValue, ordering: .relaxed)
  }

  /// Completes the exiting instruction: RIP moves past it.
  @inline(__always)
  public func advance(by length: UInt8) {
    registers.rip &+= UInt64(length)
  }
}
