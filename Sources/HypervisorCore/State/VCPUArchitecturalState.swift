/// One vCPU's architectural state as one vendor-neutral value: what the guest could observe
/// of its processor, whether the VMCB (SVM), the VMCS (VMX) or the vCPU object holds it.
/// Each backend captures it from and applies it to its own state (SVMArchitecturalState,
/// VMXArchitecturalState) at a safe point: between exits, after the vCPU's requests were
/// drained, when the register file holds RIP, RSP, RFLAGS (and RAX) and no start-up state
/// waits. docs/vm-state.md says where every field comes from on each vendor.
public struct VCPUArchitecturalState: Equatable {
  /// The general registers, RIP and RFLAGS (RSP among them).
  public var registers = GuestRegisters()
  public var cr0: UInt64 = 0x10
  public var cr2: UInt64 = 0
  public var cr3: UInt64 = 0
  public var cr4: UInt64 = 0
  /// CR8, the task priority class (TPR[7:4], SDM 3A §11.8.6.1; APM Vol 2 §15.21.3 V_TPR).
  public var cr8: UInt64 = 0
  /// EFER as the guest reads it: SVME, which SVM needs set while the guest runs (APM Vol 2
  /// §15.5.1) and which Intel reserves, is never in it.
  public var efer: UInt64 = 0
  public var es = Self.realModeData
  public var cs = SegmentState(
    selector: 0, base: 0, limit: 0xFFFF, attributes: SegmentAttributes(rawValue: 0x9B))
  public var ss = Self.realModeData
  public var ds = Self.realModeData
  public var fs = Self.realModeData
  public var gs = Self.realModeData
  public var ldtr = SegmentState(
    selector: 0, base: 0, limit: 0xFFFF, attributes: SegmentAttributes(rawValue: 0x02))
  public var tr = SegmentState(
    selector: 0, base: 0, limit: 0xFFFF, attributes: SegmentAttributes(rawValue: 0x8B))
  public var gdtr = DescriptorTableState(base: 0, limit: 0xFFFF)
  public var idtr = DescriptorTableState(base: 0, limit: 0xFFFF)
  public var dr6: UInt64 = 0xFFFF_0FF0
  public var dr7: UInt64 = 0x400
  /// IA32_SYSENTER_CS, _ESP, _EIP (MSRs 174h-176h).
  public var sysenterCS: UInt64 = 0
  public var sysenterESP: UInt64 = 0
  public var sysenterEIP: UInt64 = 0
  /// STAR, LSTAR, CSTAR, SFMASK (C000_0081h-C000_0084h) and KernelGSbase (C000_0102h).
  public var star: UInt64 = 0
  public var lstar: UInt64 = 0
  public var cstar: UInt64 = 0
  public var sfmask: UInt64 = 0
  public var kernelGSBase: UInt64 = 0
  /// IA32_PAT (277h); the power-up value (SDM 3A §13.12.4).
  public var pat: UInt64 = 0x0007_0406_0007_0406
  /// What the processor adds to the host's TSC for this vCPU: the guest's TSC relative to
  /// the host's, modulo 2^64 (VMCB TSC_OFFSET, VMCS TSC offset). Another host's TSC differs:
  /// whoever restores there sets a new offset that keeps the guest's TSC going.
  public var tscOffset: UInt64 = 0
  /// The event the next entry delivers, if any.
  public var pendingEvent: PendingEvent?
  /// An NMI handler runs and further NMIs wait for its IRET (SDM 3A §6.7.1).
  public var nmiBlocked = false
  public var interruptShadow = InterruptShadow.none
  public var activity = VirtualCPU.State.runnable
  /// The 512-byte FXSAVE image: x87, MMX, SSE registers and MXCSR (SDM 1 §10.5.1).
  public var floatingPoint: [UInt8] = Self.initialFloatingPoint
  /// MSRs the MSR policy lets the guest keep that no vendor state holds.
  public var shadowMSRs: [ShadowMSR] = []
  /// IA32_TSC_AUX (bits 31:0; 63:32 reserved), which RDTSCP and RDPID read.
  public var timeStampCounterAuxiliary: UInt64 = 0
  /// PKRU, the protection-key rights register (SDM 3A §4.6.2).
  public var protectionKeyRights: UInt32 = 0
  /// IA32_PKRS, the supervisor protection-key rights (bits 31:0; 63:32 reserved).
  public var supervisorProtectionKeyRights: UInt32 = 0

  public init() {}

  public static let floatingPointSize = 512

  static let realModeData = SegmentState(
    selector: 0, base: 0, limit: 0xFFFF, attributes: SegmentAttributes(rawValue: 0x93))

  /// FCW = 037Fh and MXCSR = 1F80h, the rest zero: the image after FNINIT and reset.
  public static var initialFloatingPoint: [UInt8] {
    var image = [UInt8](repeating: 0, count: floatingPointSize)
    image[0] = 0x7F
    image[1] = 0x03
    image[24] = 0x80
    image[25] = 0x1F
    return image
  }
}
