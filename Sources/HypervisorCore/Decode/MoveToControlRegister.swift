/// A write to a control register read from the instruction bytes: SVM without decode
/// assists reports a CR write intercept with no register number (APM Vol 2 §15.8.1), so
/// the hypervisor finds it. Three forms write CR0 or CR4 and can exit:
/// - MOV to CR (`0F 22 /r`, SDM 2B "MOV—Move to/from Control Registers"): ModRM.reg
///   (with REX.R, or LOCK for AMD's CR8 form) names the control register, ModRM.r/m (with
///   REX.B) the source; ModRM.mod is ignored.
/// - LMSW (`0F 01 /6`, SDM 2A "LMSW"), register form: bits 3:0 of the source to CR0.
/// - CLTS (`0F 06`): clears CR0.TS.
public struct MoveToControlRegister: Equatable {
  public enum Form: Equatable { case move, loadMachineStatusWord, clearTaskSwitched }

  public var form: Form
  /// The control register (0 for LMSW and CLTS).
  public var controlRegister: UInt8
  /// The source general register (0 for CLTS).
  public var generalRegister: UInt8
  /// Prefixes, opcode and ModRM.
  public var length: UInt8

  public init(form: Form = .move, controlRegister: UInt8, generalRegister: UInt8, length: UInt8) {
    self.form = form
    self.controlRegister = controlRegister
    self.generalRegister = generalRegister
    self.length = length
  }

  /// nil when the bytes are neither form (LMSW from memory among them).
  public static func decode(_ bytes: InstructionBytes, width: GuestMode.Width)
    -> MoveToControlRegister?
  {
    var index = 0
    var lock = false
    var rex: UInt8 = 0
    while index < bytes.count {
      let byte = bytes[index]
      if isLegacyPrefix(byte) {
        if byte == 0xF0 { lock = true }
        rex = 0  // REX counts only right before the opcode (SDM 2A §2.2.1)
      } else if width == .long64 && byte & 0xF0 == 0x40 {
        rex = byte
      } else {
        return decodeOpcode(bytes, at: index, rex: rex, lock: lock)
      }
      index += 1
    }
    return nil
  }

  static func isLegacyPrefix(_ byte: UInt8) -> Bool {
    switch byte {
    case 0xF0, 0x66, 0x67, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65: return true
    default: return false
    }
  }

  static func decodeOpcode(_ bytes: InstructionBytes, at index: Int, rex: UInt8, lock: Bool)
    -> MoveToControlRegister?
  {
    guard index + 1 < bytes.count, bytes[index] == 0x0F else { return nil }
    if bytes[index + 1] == 0x06 {
      return MoveToControlRegister(
        form: .clearTaskSwitched, controlRegister: 0, generalRegister: 0, length: UInt8(index + 2))
    }
    guard index + 2 < bytes.count else { return nil }
    let modrm = bytes[index + 2]
    let source = modrm & 7 | (rex & 0x1) << 3
    let length = UInt8(index + 3)
    switch bytes[index + 1] {
    case 0x22:
      var control = (modrm >> 3) & 7 | (rex & 0x4) << 1
      if lock { control |= 8 }  // LOCK MOV CR0 is MOV CR8 (AMD AltMovCr8)
      return MoveToControlRegister(
        controlRegister: control, generalRegister: source, length: length)
    case 0x01 where modrm >> 6 == 3 && (modrm >> 3) & 7 == 6:
      return MoveToControlRegister(
        form: .loadMachineStatusWord, controlRegister: 0, generalRegister: source, length: length)
    default:
      return nil
    }
  }
}
