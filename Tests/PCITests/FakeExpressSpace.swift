import PCI

/// A function's 4 KiB PCI Express configuration space in a host buffer. Registers listed in
/// `writable` keep only those bits of a write (the rest as they were), as a device's
/// read-only bits and BAR size bits do; all others take writes whole.
final class FakeExpressSpace: PCIExpressConfigurationSpace {
  var bytes = [UInt8](repeating: 0, count: 4096)
  var writable: [UInt16: UInt32] = [:]
  private(set) var writes: [(UInt16, UInt32)] = []

  func read32(_ offset: UInt16) -> UInt32 {
    let o = Int(offset & 0xFFC)
    return UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16
      | UInt32(bytes[o + 3]) << 24
  }

  func write32(_ offset: UInt16, _ value: UInt32) {
    let o = offset & 0xFFC
    writes.append((o, value))
    var stored = value
    if let mask = writable[o] { stored = value & mask | read32(o) & ~mask }
    set32(Int(o), stored)
  }

  func set32(_ offset: Int, _ value: UInt32) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
  }
}

/// QEMU 7.2's NVMe PF with `sriov_max_vfs=2`: ARI at 0x100, SR-IOV at 0x120 (TotalVFs 2,
/// First VF Offset 1, VF Stride 1, VF device 0x0010, 4 KiB pages) with VF BAR0 a 64-bit
/// memory BAR of 16 KiB per VF.
func qemuNVMeSpace(vfBARSize: UInt64 = 0x4000) -> FakeExpressSpace {
  let space = FakeExpressSpace()
  space.set32(0x100, 0x1201_000E)  // ARI, version 1, next 0x120
  space.set32(0x120, 0x0001_0010)  // SR-IOV, version 1, last
  space.set32(0x120 + 0x0C, 0x0002_0002)  // InitialVFs 2, TotalVFs 2
  space.set32(0x120 + 0x14, 0x0001_0001)  // First VF Offset 1, VF Stride 1
  space.set32(0x120 + 0x18, 0x0010_0000)  // VF Device ID 0x0010
  space.set32(0x120 + 0x1C, 0x0000_0553)  // supported page sizes
  space.set32(0x120 + 0x20, 0x0000_0001)  // system page size 4 KiB
  space.set32(0x120 + 0x24, 0x0000_0004)  // VF BAR0: 64-bit memory, unplaced
  let mask = ~(vfBARSize - 1)
  space.writable[0x120 + 0x24] = UInt32(truncatingIfNeeded: mask) & ~0xF
  space.writable[0x120 + 0x28] = UInt32(truncatingIfNeeded: mask >> 32)
  for register: UInt16 in [0x2C, 0x30, 0x34, 0x38] { space.writable[0x120 + register] = 0 }
  return space
}
