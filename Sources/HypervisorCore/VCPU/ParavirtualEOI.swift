/// KVM's paravirtual EOI, which unmodified Linux uses when the hypervisor offers it
/// (CPUID 0x4000_0101 EAX bit 6, `KVM_FEATURE_PV_EOI`; docs/guest-abi.md): the guest gives
/// the address of a flag in its memory (MSR 0x4B56_4D04, `MSR_KVM_PV_EOI_EN`: bit 0 enables,
/// the rest is the 4-byte-aligned guest-physical address). Before an entry the hypervisor
/// sets bit 0 of that flag when it knows which vector the guest's next EOI retires
/// (`LocalAPICModel.paravirtualEOITarget`); the guest's EOI routine then clears the bit
/// with one instruction instead of writing the APIC's EOI register, and the hypervisor
/// makes that EOI after the next exit. An EOI costs no exit (an xAPIC EOI is a decoded MMIO
/// write, an x2APIC one a WRMSR): per interrupt, one exit fewer.
///
/// The flag is the guest's own memory and only this vCPU's CPU touches it from the
/// hypervisor's side, between exits; the guest can only change what its own EOIs do.
public struct ParavirtualEOI {
  public static let msr: UInt32 = 0x4B56_4D04
  /// "KVMKVMKVM\0\0\0" as EBX, ECX, EDX, at a hypervisor leaf base Linux scans
  /// (`hypervisor_cpuid_base`: 0x4000_0000 to 0x4001_0000 by 0x100).
  public static let signature: (UInt32, UInt32, UInt32) = (0x4B4D_564B, 0x564B_4D56, 0x0000_004D)
  public static let leafBase: UInt32 = 0x4000_0100
  /// CPUID 0x4000_0101 EAX: KVM_FEATURE_PV_EOI (bit 6), the only paravirtual feature offered.
  public static let feature: UInt32 = 1 << 6
  static let enable: UInt64 = 1
  /// In a saved state only (docs/vm-state.md): the flag was set by the hypervisor when the
  /// vCPU stopped. Bit 1 of the MSR is an address bit that alignment keeps 0.
  static let savedFlagSet: UInt64 = 1 << 1

  /// The MSR as the guest wrote it; 0 when off.
  public private(set) var msrValue: UInt64 = 0
  /// The flag's host address, found from the VM's memory when first needed (after a write
  /// or a restore); nil while off or not yet found.
  private var flag: UnsafeMutablePointer<UInt8>?
  /// The hypervisor set the flag and has not seen it cleared or cleared it since.
  public private(set) var flagSet = false

  public init() {}

  public var isEnabled: Bool { msrValue & Self.enable != 0 }
  var flagAddress: UInt64 { msrValue & ~(Self.enable | Self.savedFlagSet) }

  /// WRMSR: false for #GP (bit 1 set: a misaligned flag; or enabled with the flag outside
  /// the guest's RAM), as KVM refuses them. The flag as it stands is settled first, so an
  /// EOI the guest made through it is not lost.
  public mutating func write(_ value: UInt64, apic: LocalAPICModel, memory: GuestMemoryMap)
    -> Bool
  {
    guard value & Self.savedFlagSet == 0 else { return false }
    var resolved: UnsafeMutablePointer<UInt8>? = nil
    if value & Self.enable != 0 {
      guard let host = memory.pointer(to: value & ~Self.enable, length: 4) else { return false }
      resolved = host.assumingMemoryBound(to: UInt8.self)
    }
    settle(apic, memory: memory)
    if flagSet { clearFlag(memory) }
    msrValue = value
    flag = resolved
    return true
  }

  /// After every exit that reaches the run loop, before its handler: a flag the guest
  /// cleared is its EOI, made now. A flag still set stays set; the next entry decides.
  @inline(__always)
  public mutating func afterExit(_ apic: LocalAPICModel, statistics: ExitStatistics) {
    guard flagSet, let flag, flag.pointee & 1 == 0 else { return }
    flagSet = false
    apic.paravirtualEndOfInterrupt()
    statistics.paravirtualEOIs &+= 1
  }

  /// Before every entry, once interrupts are decided (`offered`: SVM's V_IRQ vector, nil on
  /// VMX, where an injected vector is in service already): the flag is set when the next
  /// EOI's vector is certain, and cleared otherwise.
  @inline(__always)
  public mutating func beforeEntry(
    _ apic: LocalAPICModel, offered: UInt8?, memory: GuestMemoryMap
  ) {
    guard isEnabled else { return }
    guard let flag = flag ?? resolve(memory) else { return }
    let wanted = apic.paravirtualEOITarget(offered: offered) != nil
    guard wanted != flagSet else { return }
    if wanted {
      flag.pointee |= 1
      memory.noteWrite(flagAddress, length: 1)
      flagSet = true
    } else {
      clearFlag(memory)
    }
  }

  /// INIT (SDM 3A §9.4.3), which also empties the APIC's ISR: off, as KVM's APIC reset
  /// leaves it; a flag left set in guest memory is the guest's, which sets it up again.
  public mutating func reset() { self = ParavirtualEOI() }

  /// Before the state is captured: an EOI the guest made is made now, so the saved APIC is
  /// current; a flag still set travels with the saved MSR (`savedValue`).
  public mutating func settle(_ apic: LocalAPICModel, memory: GuestMemoryMap) {
    guard flagSet, let flag = flag ?? resolve(memory), flag.pointee & 1 == 0 else { return }
    flagSet = false
    apic.paravirtualEndOfInterrupt()
  }

  /// The MSR for a saved state, with `savedFlagSet` when the flag is the hypervisor's.
  public var savedValue: UInt64 { msrValue | (flagSet ? Self.savedFlagSet : 0) }

  /// From a saved state: the flag's host address is found again before the next entry.
  public mutating func restore(savedValue: UInt64) {
    msrValue = savedValue & ~Self.savedFlagSet
    flagSet = isEnabled && savedValue & Self.savedFlagSet != 0
    flag = nil
  }

  /// The flag's host address after a restore; a restored address outside RAM turns the
  /// feature off, as if never enabled.
  @inline(never)
  private mutating func resolve(_ memory: GuestMemoryMap) -> UnsafeMutablePointer<UInt8>? {
    guard let host = memory.pointer(to: flagAddress, length: 4) else {
      self = ParavirtualEOI()
      return nil
    }
    flag = host.assumingMemoryBound(to: UInt8.self)
    return flag
  }

  private mutating func clearFlag(_ memory: GuestMemoryMap) {
    flagSet = false
    guard let flag else { return }
    flag.pointee &= ~1
    memory.noteWrite(flagAddress, length: 1)
  }
}
