/// A decoded base address register (PCI Local Bus 3.0 §6.2.5.1): its kind, where the
/// firmware placed it, and how large it is.
public enum PCIBaseAddress: Equatable, Sendable {
  case unused
  case io(base: UInt32, size: UInt32)
  case memory(base: UInt64, size: UInt64, is64Bit: Bool, prefetchable: Bool)

  public var memoryBase: UInt64? {
    if case .memory(let base, _, _, _) = self { return base }
    return nil
  }

  public var memorySize: UInt64? {
    if case .memory(_, let size, _, _) = self { return size }
    return nil
  }

  /// Reads and sizes every BAR of a function: each is written with all ones, read back
  /// (the device clears the size's bits) and restored, with I/O and memory decoding off
  /// meanwhile, as §6.2.5.1 requires. A 64-bit BAR takes two slots; the second is
  /// `.unused`. Bits 2:1 type 10b is 64-bit; 01b (below 1 MiB, PCI 2.x) is decoded as 32.
  public static func readAll<Space: PCIConfigurationSpace>(
    _ space: Space, count: Int
  ) -> [PCIBaseAddress] {
    let command = space.read16(0x04)
    space.write16(0x04, command & ~(PCICommand.ioSpace | PCICommand.memorySpace))
    let result = sized(slots: Swift.min(count, 6)) { index in
      let offset = UInt8(0x10 + 4 * index)
      let value = space.read32(offset)
      return (value, probe(space, offset, keeping: value))
    }
    space.write16(0x04, command)
    return result
  }

  private static func probe<Space: PCIConfigurationSpace>(
    _ space: Space, _ offset: UInt8, keeping original: UInt32
  ) -> UInt32 {
    space.write32(offset, 0xFFFF_FFFF)
    let mask = space.read32(offset)
    space.write32(offset, original)
    return mask
  }

  /// Decodes `slots` consecutive BARs from what `read` answers for slot i: the register's
  /// value and its read-back after all ones were written (§6.2.5.1). Shared by a function's
  /// header and an SR-IOV capability's VF BARs (PCIe 5.0 §9.3.3.14), which size alike.
  static func sized(
    slots: Int, read: (Int) -> (value: UInt32, mask: UInt32)
  ) -> [PCIBaseAddress] {
    var result: [PCIBaseAddress] = []
    var index = 0
    while index < slots {
      let (low, lowMask) = read(index)
      if low & 1 == 1 {
        let mask = lowMask & ~0x3
        let size = mask == 0 ? 0 : (~mask &+ 1) & 0xFFFF
        result.append(size == 0 ? .unused : .io(base: low & ~0x3, size: size))
        index += 1
        continue
      }
      let is64 = (low >> 1) & 0x3 == 0x2 && index + 1 < slots
      var base = UInt64(low & ~0xF)
      let size: UInt64
      if is64 {
        let (high, highMask) = read(index + 1)
        base |= UInt64(high) << 32
        let mask = UInt64(highMask) << 32 | UInt64(lowMask & ~0xF)
        size = mask == 0 ? 0 : ~mask &+ 1
      } else {
        let mask = lowMask & ~0xF
        size = mask == 0 ? 0 : UInt64(~mask &+ 1)
      }
      result.append(
        size == 0
          ? .unused
          : .memory(base: base, size: size, is64Bit: is64, prefetchable: low & 0x8 != 0))
      if is64 {
        result.append(.unused)
        index += 2
      } else {
        index += 1
      }
    }
    return result
  }
}
