/// One piece of a multiboot guest image in guest memory: `fileBytes` of the image copied to
/// `address`, then zeros up to `memorySize` (an ELF PT_LOAD segment, or the a.out kludge's
/// load range and bss).
public struct MultibootSegment: Equatable, Sendable {
  public var fileBytes: Range<Int>
  public var address: UInt64
  public var memorySize: UInt64

  public var end: UInt64 { address + memorySize }

  public func overlaps(_ start: UInt64, _ end: UInt64) -> Bool {
    address < end && start < self.end
  }
}
