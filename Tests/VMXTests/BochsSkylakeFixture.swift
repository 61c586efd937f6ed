@testable import VMX

/// Bochs 2.7 `corei7_skylake_x` capability MSRs, as read by a test hypervisor
/// (/work/shared/design/emulators.md).
enum BochsSkylake {
  static let basic: UInt64 = 0x00d8_1000_0000_002b
  static let pinBased: UInt64 = 0x0000_007f_0000_0016
  static let truePinBased: UInt64 = 0x0000_007f_0000_0016
  static let procBased: UInt64 = 0xf7f9_fffe_0401_e172
  static let trueProcBased: UInt64 = 0xf7f9_fffe_0400_6172
  static let exit: UInt64 = 0x007f_ffff_0003_6dff
  static let trueExit: UInt64 = 0x007f_ffff_0003_6dfb
  static let entry: UInt64 = 0x0000_ffff_0000_11ff
  static let trueEntry: UInt64 = 0x0000_ffff_0000_11fb
  static let misc: UInt64 = 0x6004_01e0
  static let procBased2: UInt64 = 0x0217_7fff_0000_0000
  static let eptVPIDCap: UInt64 = 0x0000_0f01_0633_4141
  static let cr0Fixed0: UInt64 = 0x8000_0021
  static let cr0Fixed1: UInt64 = 0xffff_ffff
  static let cr4Fixed0: UInt64 = 0x2000
  static let cr4Fixed1: UInt64 = 0x37_27ff

  static var capabilities: VMXCapabilities {
    VMXCapabilities(
      basic: basic, pinBased: pinBased, procBased: procBased, exit: exit, entry: entry,
      truePinBased: truePinBased, trueProcBased: trueProcBased, trueExit: trueExit,
      trueEntry: trueEntry, procBased2: procBased2, eptVPIDCap: eptVPIDCap,
      cr0Fixed0: cr0Fixed0, cr0Fixed1: cr0Fixed1, cr4Fixed0: cr4Fixed0, cr4Fixed1: cr4Fixed1,
      misc: misc)
  }

  /// The MSRs by index, as RDMSR would return them.
  static func readMSR(_ index: UInt32) -> UInt64? {
    switch index {
    case 0x480: return basic
    case 0x481: return pinBased
    case 0x482: return procBased
    case 0x483: return exit
    case 0x484: return entry
    case 0x485: return misc
    case 0x486: return cr0Fixed0
    case 0x487: return cr0Fixed1
    case 0x488: return cr4Fixed0
    case 0x489: return cr4Fixed1
    case 0x48A: return 0x34
    case 0x48B: return procBased2
    case 0x48C: return eptVPIDCap
    case 0x48D: return truePinBased
    case 0x48E: return trueProcBased
    case 0x48F: return trueExit
    case 0x490: return trueEntry
    default: return nil
    }
  }
}

/// StaticStrings as Strings, so XCTest can compare them.
func strings(_ names: [StaticString]) -> [String] {
  names.map { "\($0)" }
}
