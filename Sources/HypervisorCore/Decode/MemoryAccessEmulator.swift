/// Carries out a decoded MMIO access against a device model and updates the guest's
/// registers as the instruction would have.
public enum MemoryAccessEmulator {
  /// Performs the access: `read(size)` returns the device's value for a load and
  /// `write(size, value)` stores one. Updates the destination register (merging 8- and 16-bit
  /// writes, zero-extending 32-bit ones as 64-bit mode does, SDM Vol 1 §3.4.1.1), RDI and RCX
  /// for STOS, and advances RIP by the instruction's length.
  ///
  /// REP STOS calls `write` once per repetition, (E/R)CX times (none when it is zero); the
  /// k-th call (from 0) targets the starting (E/R)DI plus k × size, or minus with RFLAGS.DF.
  public static func execute(
    _ access: DecodedMemoryAccess, registers: inout GuestRegisters, read: (UInt8) -> UInt64,
    write: (UInt8, UInt64) -> Void
  ) {
    switch access.instruction {
    case .load(let size, let destination, let highByte, let extension_, let destinationSize):
      let raw = read(size) & mask(size)
      let value = extension_ == .sign ? signExtend(raw, from: size) : raw
      let old = registers[destination]
      registers[destination] =
        highByte
        ? old & ~0xFF00 | (value & 0xFF) << 8
        : merge(value, into: old, size: destinationSize)

    case .store(let size, let source):
      let value: UInt64
      switch source {
      case .register(let number, let highByte):
        value = highByte ? registers[number] >> 8 : registers[number]
      case .immediate(let immediate):
        value = immediate
      }
      write(size, value & mask(size))

    case .storeString(let size, let repeated, let addressSize):
      // SDM Vol 2 STOS and REP: the count and index registers are as wide as the address.
      let addressMask = mask(addressSize)
      var remaining = repeated ? registers.rcx & addressMask : 1
      let directionDown = registers.rflags & (1 << 10) != 0
      let step = directionDown ? 0 &- UInt64(size) : UInt64(size)
      let value = registers.rax & mask(size)
      var index = registers.rdi
      while remaining != 0 {
        write(size, value)
        index &+= step
        remaining -= 1
      }
      registers.rdi = merge(index, into: registers.rdi, size: addressSize)
      if repeated { registers.rcx = merge(0, into: registers.rcx, size: addressSize) }
    }
    registers.rip &+= UInt64(access.length)
  }

  /// All ones in the low `size` bytes.
  @inline(__always)
  private static func mask(_ size: UInt8) -> UInt64 {
    size >= 8 ? ~0 : (1 << (UInt64(size) * 8)) - 1
  }

  @inline(__always)
  private static func signExtend(_ value: UInt64, from size: UInt8) -> UInt64 {
    guard size < 8 else { return value }
    let unused = 64 - UInt64(size) * 8
    return UInt64(bitPattern: Int64(bitPattern: value << unused) >> unused)
  }

  /// A register write of `size` bytes: 8- and 16-bit writes keep the upper bits, 32-bit
  /// writes clear bits 63:32 (SDM Vol 1 §3.4.1.1), 64-bit writes replace all.
  @inline(__always)
  private static func merge(_ value: UInt64, into old: UInt64, size: UInt8) -> UInt64 {
    switch size {
    case 1, 2: return old & ~mask(size) | value & mask(size)
    case 4: return value & 0xFFFF_FFFF
    default: return value
    }
  }
}
