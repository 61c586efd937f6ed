/// IA32_APIC_BASE and the x2APIC register MSRs of a local APIC (SDM 3A §11.12).
extension LocalAPICModel {
  /// IA32_APIC_BASE bit 11: the APIC is enabled (§11.4.4).
  public static let globalEnable: UInt64 = 1 << 11
  /// IA32_APIC_BASE bit 10 (EXTD): x2APIC mode (§11.12.1).
  public static let x2APICEnable: UInt64 = 1 << 10
  /// IA32_APIC_BASE bit 8: this is the bootstrap processor (§11.4.4).
  public static let bootstrapProcessor: UInt64 = 1 << 8

  /// The modes EN and EXTD select (§11.12.1, Table 11-5); EN = 0 with EXTD = 1 is invalid
  /// and never held.
  public enum Mode: Equatable {
    case disabled
    case xAPIC
    case x2APIC
  }

  public var mode: Mode {
    guard baseMSR & Self.globalEnable != 0 else { return .disabled }
    return baseMSR & Self.x2APICEnable != 0 ? .x2APIC : .xAPIC
  }

  /// Where the xAPIC page is (IA32_APIC_BASE bits 51:12, §11.4.4): 0xFEE0_0000 at reset,
  /// wherever the guest moved it since. The vCPU places its MMIO entry there
  /// (`VirtualCPU.placeLocalAPIC`).
  public var mmioBase: UInt64 { baseMSR & Self.baseAddressMask }

  /// IA32_APIC_BASE bits 51:12, the page's address.
  static let baseAddressMask: UInt64 = 0x000F_FFFF_FFFF_F000

  /// WRMSR to IA32_APIC_BASE. False when the processor raises #GP: reserved bits (0-7, 9,
  /// and the address bits from MAXPHYADDR up, `physicalAddressBits`, at most 52), the
  /// invalid EN = 0 / EXTD = 1 combination, and the transitions Figure 11-27 (§11.12.5)
  /// forbids: x2APIC to xAPIC, and disabled straight to x2APIC. BSP is read-only. The
  /// base moves the xAPIC page (§11.4.5; kvm-unit-tests' "apicbase: relocate apic"); the
  /// caller re-places the vCPU's MMIO entry. Disabling the APIC resets it (§11.4.3:
  /// re-enabled, it is in its power-up state, its base as written).
  public func setBaseMSR(_ value: UInt64, physicalAddressBits: UInt8 = 52) -> Bool {
    let bits = UInt64(min(max(physicalAddressBits, 32), 52))
    let reserved: UInt64 = 0x2FF | ~((1 << bits) - 1)
    guard value & reserved == 0 else { return false }
    let enable = value & Self.globalEnable != 0
    let extended = value & Self.x2APICEnable != 0
    let next: Mode
    switch (enable, extended) {
    case (false, false): next = .disabled
    case (true, false): next = .xAPIC
    case (true, true): next = .x2APIC
    case (false, true): return false
    }
    switch (mode, next) {
    case (.x2APIC, .xAPIC), (.disabled, .x2APIC): return false
    default: break
    }
    if next == .disabled && mode != .disabled { resetForINIT() }
    baseMSR =
      value & Self.baseAddressMask | (baseMSR & Self.bootstrapProcessor)
      | (value & (Self.globalEnable | Self.x2APICEnable))
    return true
  }

  /// The x2APIC logical ID, derived from the x2APIC ID (§11.12.10.2): cluster ID (ID >> 4)
  /// in bits 31:16 and one bit for ID & 15 in bits 15:0.
  public var x2APICLogicalID: UInt32 {
    UInt32(id >> 4) << 16 | 1 << UInt32(id & 15)
  }

  /// Whether an x2APIC logical destination selects this APIC: same cluster and a common
  /// member bit, or the broadcast 0xFFFF_FFFF (§11.12.10.2). Reads only the immutable ID.
  public func acceptsX2APICLogical(_ destination: UInt32) -> Bool {
    if destination == 0xFFFF_FFFF { return true }
    let mine = x2APICLogicalID
    return destination >> 16 == mine >> 16 && destination & mine & 0xFFFF != 0
  }

  /// RDMSR of x2APIC register `index` (MSRs 0x800-0x8FF, §11.12.1.2, Table 11-6), or nil for
  /// #GP: outside x2APIC mode, write-only registers (EOI, SELF IPI), and MSRs that do not
  /// exist (DFR, ICR high, CMCI: this APIC has six LVT entries).
  public func readX2APIC(_ index: UInt32) -> UInt64? {
    guard mode == .x2APIC else { return nil }
    switch index {
    case 0x802: return UInt64(id)  // the 32-bit x2APIC ID
    case 0x803, 0x808, 0x80A, 0x80F, 0x810...0x828, 0x832...0x839, 0x83E:
      return readRegister(offset: UInt64(index - 0x800) << 4) & 0xFFFF_FFFF
    case 0x80D: return UInt64(x2APICLogicalID)
    case 0x830: return UInt64(interruptCommand.high) << 32 | UInt64(interruptCommand.low)
    default: return nil
    }
  }

  /// WRMSR of x2APIC register `index`; false for #GP: outside x2APIC mode, read-only
  /// registers (ID, version, PPR, LDR, ISR, TMR, IRR, current count), MSRs that do not
  /// exist, reserved bits set (the upper half of every register but the ICR), EOI and ESR
  /// written with anything but 0 (§11.12.1.2).
  public func writeX2APIC(_ index: UInt32, _ value: UInt64) -> Bool {
    guard mode == .x2APIC else { return false }
    guard index == 0x830 || value >> 32 == 0 else { return false }
    switch index {
    case 0x808:
      guard value & ~0xFF == 0 else { return false }
    case 0x80B:
      guard value == 0 else { return false }
    case 0x828:
      guard value == 0 else { return false }
    case 0x80F:
      // Vector 7:0, APIC enable 8, focus 9 (not used by x2APIC), EOI-broadcast
      // suppression 12 (not offered: version bit 24 clear).
      guard value & ~0x3FF == 0 else { return false }
    case 0x830:
      // Figure 11-28: 12, 13, 16, 17 and 20-31 reserved; destination in 63:32.
      guard value & 0xFFF3_3000 == 0 else { return false }
      interruptCommand = (
        UInt32(truncatingIfNeeded: value), UInt32(truncatingIfNeeded: value >> 32)
      )
      outgoing.append(InterprocessorInterrupt(x2APICCommand: value))
      return true
    case 0x832...0x837, 0x838, 0x83E:
      break
    case 0x83F:
      // SELF IPI (§11.12.11): a fixed, edge interrupt to this APIC only.
      guard value & ~0xFF == 0 else { return false }
      request(UInt8(truncatingIfNeeded: value))
      return true
    default:
      return false
    }
    if index == 0x80B, endOfInterruptListener != nil {
      // The EOI broadcast clears remote IRR in the VM-wide I/O APIC: under the device
      // lock, as an xAPIC EOI (an MMIO exit) is (`devicesLock`).
      devicesLock?.lock()
      defer { devicesLock?.unlock() }
      writeRegister(offset: UInt64(index - 0x800) << 4, value: value)
      return true
    }
    writeRegister(offset: UInt64(index - 0x800) << 4, value: value)
    return true
  }
}
