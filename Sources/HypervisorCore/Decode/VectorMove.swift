/// An SSE or MMX move between a vector register and memory, the forms guests (and
/// kvm-unit-tests' `emulator`) use on MMIO: MOVUPS/MOVUPD/MOVAPS/MOVAPD (0F 10/11, 28/29),
/// MOVSS/MOVSD (F3/F2 0F 10/11), MOVDQA/MOVDQU (66/F3 0F 6F/7F), MOVNTPS/PD (0F 2B),
/// MOVNTDQ/MOVNTQ (66/- 0F E7), MOVD/MOVQ (0F 6E/7E, 66 0F D6, F3 0F 7E) and the MMX MOVQ
/// (0F 6F/7F). SDM Vol 2, each page.
public struct VectorMove: Equatable {
  public enum RegisterFile: Equatable {
    /// XMM0-XMM15, in the FXSAVE image from byte 160 on, 16 bytes each.
    case xmm
    /// MM0-MM7, the low 64 bits of the x87 registers' FXSAVE slots (byte 32 on, 16 each).
    case mmx
  }

  public var file: RegisterFile
  public var register: Int
  /// Bytes moved: 4, 8 or 16.
  public var size: UInt8
  /// Register to memory.
  public var isStore: Bool
  /// MOVAPS, MOVAPD, MOVDQA and the non-temporal stores: a memory operand not 16-byte
  /// aligned is #GP(0) (SDM Vol 2 MOVAPS, "Protected Mode Exceptions").
  public var requiresAlignment: Bool

  public init(
    file: RegisterFile, register: Int, size: UInt8, isStore: Bool, requiresAlignment: Bool = false
  ) {
    self.file = file
    self.register = register
    self.size = size
    self.isStore = isStore
    self.requiresAlignment = requiresAlignment
  }

  /// Decodes the two-byte opcode `second` (after 0F) under its mandatory prefix: nil when
  /// it is not one of these moves. `prefix` is 0x66, 0xF3, 0xF2 or 0 for none; `wide` is
  /// REX.W (MOVD becomes MOVQ); `reg` is ModRM.reg with REX.R.
  static func decode(_ second: UInt8, prefix: UInt8, wide: Bool, reg: Int) -> VectorMove? {
    let xmm = reg
    let mmx = reg & 7  // REX.R does not extend MMX register numbers (SDM Vol 2 §2.2.1.2)
    switch (second, prefix) {
    case (0x10, 0), (0x10, 0x66), (0x11, 0), (0x11, 0x66):
      return VectorMove(file: .xmm, register: xmm, size: 16, isStore: second == 0x11)
    case (0x10, 0xF3), (0x11, 0xF3):
      return VectorMove(file: .xmm, register: xmm, size: 4, isStore: second == 0x11)
    case (0x10, 0xF2), (0x11, 0xF2):
      return VectorMove(file: .xmm, register: xmm, size: 8, isStore: second == 0x11)
    case (0x28, 0), (0x28, 0x66), (0x29, 0), (0x29, 0x66):
      return VectorMove(
        file: .xmm, register: xmm, size: 16, isStore: second == 0x29, requiresAlignment: true)
    case (0x2B, 0), (0x2B, 0x66), (0xE7, 0x66):
      return VectorMove(
        file: .xmm, register: xmm, size: 16, isStore: true, requiresAlignment: true)
    case (0xE7, 0):
      return VectorMove(file: .mmx, register: mmx, size: 8, isStore: true)
    case (0x6F, 0x66), (0x7F, 0x66):
      return VectorMove(
        file: .xmm, register: xmm, size: 16, isStore: second == 0x7F, requiresAlignment: true)
    case (0x6F, 0xF3), (0x7F, 0xF3):
      return VectorMove(file: .xmm, register: xmm, size: 16, isStore: second == 0x7F)
    case (0x6F, 0), (0x7F, 0):
      return VectorMove(file: .mmx, register: mmx, size: 8, isStore: second == 0x7F)
    case (0x6E, 0), (0x7E, 0):
      return VectorMove(file: .mmx, register: mmx, size: wide ? 8 : 4, isStore: second == 0x7E)
    case (0x6E, 0x66), (0x7E, 0x66):
      return VectorMove(file: .xmm, register: xmm, size: wide ? 8 : 4, isStore: second == 0x7E)
    case (0x7E, 0xF3):
      return VectorMove(file: .xmm, register: xmm, size: 8, isStore: false)
    case (0xD6, 0x66):
      return VectorMove(file: .xmm, register: xmm, size: 8, isStore: true)
    default:
      return nil
    }
  }

  /// Byte offset of the register in the 512-byte FXSAVE image (SDM Vol 1 §10.5.1, Table
  /// 10-2: ST0/MM0 at 32, XMM0 at 160).
  public var imageOffset: Int {
    file == .xmm ? 160 + 16 * register : 32 + 16 * register
  }
}
