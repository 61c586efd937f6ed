import Synchronization

/// One virtual processor. Its register file lives in memory the world switch reads and
/// writes directly (boot/*_world_switch.asm), so entering the guest copies nothing.
public final class VirtualCPU {
  public enum State: Equatable {
    case runnable
    /// HLT with interrupts enabled: waits for an interrupt.
    case halted
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
  /// The length the dispatcher found for the current instruction exit when the hardware
  /// reported none (SVM without NRIPS); 0 when none is pending. InstructionCompletion
  /// consumes it.
  public var checkedInstructionLength: UInt8 = 0
  /// This vCPU's local APIC, where the VM's platform has one (Linux guests).
  public var localAPIC: LocalAPICModel? {
    didSet {
      localDevices = MMIODeviceTable()
      if let localAPIC { localDevices.register(localAPIC, base: LocalAPICModel.base, size: 0x1000) }
    }
  }
  /// MMIO devices each vCPU has its own of at the same address (the local APIC): looked up
  /// before the VM's table.
  public private(set) var localDevices = MMIODeviceTable()
  /// MSRs the policy lets the guest keep that no vendor state holds.
  public var shadowMSRs: [(index: UInt32, value: UInt64)] = []
  /// EFER bits the guest wrote that its vendor state does not hold yet: SVM keeps EFER.LME
  /// out of the VMCB while the guest's CR0.PG = 0 and holds it here until paging turns on
  /// (SVMGuestState, docs/hardening.md). Part of the vCPU's architectural state: the guest
  /// reads EFER as the vendor state's value with these bits added.
  public var deferredEFER: UInt64 = 0

  /// The physical CPU whose run queue holds this vCPU, -1 while it has none. Kicks go there.
  public let hostCPU = Atomic<Int>(-1)
  /// A TLB flush of the VM's guest-physical translations is due before the next entry
  /// (a `.flushTLB` request was drained). Touched only by the vCPU's own CPU.
  public var tlbFlushPending = false
  /// Requests posted by other CPUs (VCPURequest bits), drained before each entry.
  public let requests = Atomic<UInt32>(0)
  /// Tells the vCPU's CPU to look at `requests`; nil on the host (tests).
  public var kicker: (any VCPUKicker)?

  /// Asks the vCPU's CPU for `request` before the next entry, and kicks it.
  public func post(_ request: VCPURequest) {
    requests.bitwiseOr(request.rawValue, ordering: .sequentiallyConsistent)
    kicker?.kick(self)
  }

  /// Takes every pending request at once.
  public func takeRequests() -> VCPURequest {
    VCPURequest(rawValue: requests.exchange(0, ordering: .acquiring))
  }

  @inline(__always)
  public var hasRequests: Bool { requests.load(ordering: .relaxed) != 0 }

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

  /// Completes the exiting instruction: RIP moves past it.
  @inline(__always)
  public func advance(by length: UInt8) {
    registers.rip &+= UInt64(length)
  }
}
