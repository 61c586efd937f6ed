// fuzz-modules: PCI
// A PCI function's configuration space as the hypervisor reads it when it looks for its
// management NIC: a device (or a hostile one behind a passthrough later) chooses every byte.
//
// Checks, beyond not trapping: the capability walk ends within 48 entries and only at
// offsets 0x40-0xFC, BAR sizing writes every BAR back as it was, and decoded virtio
// structures name a BAR 0-5.
//
// Input: 256 bytes of configuration space, then 24 bytes of BAR masks.
import PCI

final class Space: PCIConfigurationSpace {
  var bytes: [UInt8]
  let masks: [UInt32]
  init(_ bytes: [UInt8], masks: [UInt32]) {
    self.bytes = bytes
    self.masks = masks
  }
  func read32(_ offset: UInt8) -> UInt32 {
    let o = Int(offset & 0xFC)
    return UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16
      | UInt32(bytes[o + 3]) << 24
  }
  func write32(_ offset: UInt8, _ value: UInt32) {
    let o = Int(offset & 0xFC)
    var stored = value
    // A BAR keeps the address bits it decodes; its low four (type) bits are read-only.
    if o >= 0x10 && o < 0x28 {
      stored = value & masks[(o - 0x10) / 4] & ~0xF | read32(UInt8(o)) & 0xF
    }
    for i in 0..<4 { bytes[o + i] = UInt8(truncatingIfNeeded: stored >> (8 * UInt32(i))) }
  }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  guard size >= 256 + 24 else { return 0 }
  let raw = Array(UnsafeBufferPointer(start: data, count: size))
  var masks: [UInt32] = []
  for index in 0..<6 {
    let o = 256 + 4 * index
    masks.append(
      UInt32(raw[o]) | UInt32(raw[o + 1]) << 8 | UInt32(raw[o + 2]) << 16 | UInt32(raw[o + 3]) << 24
    )
  }
  let space = Space(Array(raw[0..<256]), masks: masks)
  guard let header = PCIHeader(space) else { return 0 }
  let before = (0..<6).map { space.read32(UInt8(0x10 + 4 * $0)) }
  _ = PCIBaseAddress.readAll(space, count: header.barCount)
  for index in 0..<6 where index < header.barCount {
    // Written back as it was read: what this device keeps of that value.
    let restored = before[index] & masks[index] & ~0xF | before[index] & 0xF
    precondition(space.read32(UInt8(0x10 + 4 * index)) == restored, "a BAR was not restored")
  }
  let capabilities = PCICapability.list(space, header: header)
  precondition(capabilities.count <= 48, "the capability walk did not end")
  for capability in capabilities {
    precondition(
      capability.offset >= 0x40 && capability.offset <= 0xFC, "a capability in the header")
    if capability.id == PCICapability.msiX { _ = MSIXCapability(space, at: capability.offset) }
  }
  for structure in VirtioPCICapability.all(space, capabilities: capabilities) {
    precondition(structure.bar <= 5, "a virtio structure in a reserved BAR")
  }
  return 0
}
