import HypervisorCore
import SVM
import VMX

/// A VMCS as a dictionary of fields: what VMREAD and VMWRITE would see.
final class FakeVMCS: VMCSAccess {
  var fields: [UInt32: UInt64] = [:]

  func read(_ field: VMCSField) -> UInt64 { fields[field.rawValue] ?? 0 }
  func write(_ field: VMCSField, _ value: UInt64) { fields[field.rawValue] = value }

  /// The guest/host masks the kernel writes at VMCS creation (VMXGuest).
  init(capabilities: VMXCapabilities) {
    write(.cr0GuestHostMask, capabilities.cr0GuestHostMask)
    write(.cr4GuestHostMask, capabilities.cr4GuestHostMask(for: .baseline))
  }
}

/// A zeroed 4 KiB host buffer standing in for a VMCB page.
final class FakeVMCB {
  let base: UnsafeMutableRawPointer
  let vmcb: VMCB

  init() {
    base = .allocate(byteCount: VMCBOffset.size, alignment: 4096)
    vmcb = VMCB(base: base)
    vmcb.clear()
  }

  deinit { base.deallocate() }
}

/// Bochs 2.7 `corei7_skylake_x`'s VMX capability MSRs (VMXTests' BochsSkylakeFixture).
let skylakeCapabilities = VMXCapabilities(
  basic: 0x00d8_1000_0000_002b, pinBased: 0x0000_007f_0000_0016,
  procBased: 0xf7f9_fffe_0401_e172, exit: 0x007f_ffff_0003_6dff, entry: 0x0000_ffff_0000_11ff,
  truePinBased: 0x0000_007f_0000_0016, trueProcBased: 0xf7f9_fffe_0400_6172,
  trueExit: 0x007f_ffff_0003_6dfb, trueEntry: 0x0000_ffff_0000_11fb,
  procBased2: 0x0217_7fff_0000_0000, eptVPIDCap: 0x0000_0f01_0633_4141, cr0Fixed0: 0x8000_0021,
  cr0Fixed1: 0xffff_ffff, cr4Fixed0: 0x2000, cr4Fixed1: 0x37_27ff, misc: 0x6004_01e0)

/// A 64-bit Linux-like guest in the middle of its life: every field away from its reset
/// value, so a field a mapping drops shows up as a difference.
func longModeState() -> VCPUArchitecturalState {
  var state = VCPUArchitecturalState()
  for number in 0..<16 { state.registers[number] = 0x1111_0000_0000_0000 | UInt64(number) * 0x101 }
  state.registers.rip = 0xFFFF_FFFF_8100_0123
  state.registers.rflags = 0x246  // IF, ZF, PF, bit 1
  state.cr0 = 0x8005_0033  // PG, AM, WP, NE, ET, MP, PE
  state.cr2 = 0x7FFF_DEAD_B000
  state.cr3 = 0x1234_5000
  state.cr4 = 0x0000_06A0  // OSXMMEXCPT, OSFXSR, PGE, PAE
  state.cr8 = 0x3
  state.efer = 0xD01  // NXE, LMA, LME, SCE
  let data = SegmentAttributes(rawValue: 0xC93)  // G, D/B, P, S, read/write accessed
  state.es = SegmentState(selector: 0x18, base: 0, limit: 0xFFFF_FFFF, attributes: data)
  state.cs = SegmentState(
    selector: 0x10, base: 0, limit: 0xFFFF_FFFF, attributes: SegmentAttributes(rawValue: 0xA9B))
  state.ss = SegmentState(selector: 0x18, base: 0, limit: 0xFFFF_FFFF, attributes: data)
  // A null DS: unusable on VMX, not present on SVM.
  state.ds = SegmentState(
    selector: 0, base: 0, limit: 0, attributes: SegmentAttributes(rawValue: 0))
  state.fs = SegmentState(
    selector: 0, base: 0x7F12_3456_7000, limit: 0xFFFF_FFFF,
    attributes: SegmentAttributes(rawValue: 0x093))
  state.gs = SegmentState(
    selector: 0, base: 0xFFFF_8880_7FC0_0000, limit: 0xFFFF_FFFF,
    attributes: SegmentAttributes(rawValue: 0x093))
  state.ldtr = SegmentState(
    selector: 0, base: 0, limit: 0, attributes: SegmentAttributes(rawValue: 0x02))
  state.tr = SegmentState(
    selector: 0x40, base: 0xFFFF_FE00_0000_3000, limit: 0x4087,
    attributes: SegmentAttributes(rawValue: 0x08B))
  state.gdtr = DescriptorTableState(base: 0xFFFF_FE00_0000_1000, limit: 0x7F)
  state.idtr = DescriptorTableState(base: 0xFFFF_FE00_0000_0000, limit: 0xFFF)
  state.dr6 = 0xFFFF_4FF0
  state.dr7 = 0x401
  state.sysenterCS = 0x10
  state.sysenterESP = 0xFFFF_FE00_0000_5000
  state.sysenterEIP = 0xFFFF_FFFF_8160_0000
  state.star = 0x0023_0010_0000_0000
  state.lstar = 0xFFFF_FFFF_8160_0040
  state.cstar = 0xFFFF_FFFF_8160_0080
  state.sfmask = 0x4_7700
  state.kernelGSBase = 0x7F00_0000_1000
  state.pat = 0x0407_0501_0007_0406
  state.tscOffset = 0xFFFF_FFFF_0000_1234
  state.pendingEvent = .exception(vector: 14, errorCode: 0x6)
  state.nmiBlocked = true
  state.interruptShadow = .sti
  state.activity = .runnable
  state.floatingPoint = (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
  state.shadowMSRs = [ShadowMSR(index: 0x1A0, value: 0x850089), ShadowMSR(index: 0x3A, value: 5)]
  state.timeStampCounterAuxiliary = 0x0000_0102  // bits 63:32 reserved
  state.protectionKeyRights = 0x5555_5554
  state.supervisorProtectionKeyRights = 0x0000_000C
  return state
}

/// A 16-bit real-mode guest with LME set and paging off: SVM keeps LME in the vCPU then.
func realModeState() -> VCPUArchitecturalState {
  var state = VCPUArchitecturalState()
  state.registers.rip = 0x7C00
  state.registers.rsp = 0x6F00
  state.registers.rflags = 0x2  // IF clear
  state.cs = SegmentState(
    selector: 0x0700, base: 0x7000, limit: 0xFFFF, attributes: SegmentAttributes(rawValue: 0x9B))
  state.efer = 0x100  // LME waiting for paging
  state.cr4 = 0x20
  state.interruptShadow = .movSS
  state.activity = .halted
  state.pendingEvent = .externalInterrupt(vector: 0x30)
  return state
}
