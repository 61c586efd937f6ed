/// The parts of the Multiboot2 information block that the hypervisor uses.
public struct BootInformation: Sendable {
  /// The block's `total_size` field (Multiboot2 spec §3.6.2).
  public var totalSize: UInt32
  /// Tag 1, without the terminating NUL.
  public var commandLine: [UInt8]
  /// Tag 2, without the terminating NUL.
  public var bootLoaderName: [UInt8]
  /// Tag 6, sorted by start address.
  public var memoryMap: [MemoryRegion]
  /// Tag 3, in the order the boot loader listed them.
  public var modules: [BootModule]
  /// Tag 15 (preferred) or tag 14.
  public var rsdp: RSDP?
  /// Where the information block itself lives, so it can be reserved.
  public var infoRange: PhysicalRange

  public init(
    totalSize: UInt32, commandLine: [UInt8], bootLoaderName: [UInt8],
    memoryMap: [MemoryRegion], modules: [BootModule], rsdp: RSDP?, infoRange: PhysicalRange
  ) {
    self.totalSize = totalSize
    self.commandLine = commandLine
    self.bootLoaderName = bootLoaderName
    self.memoryMap = memoryMap
    self.modules = modules
    self.rsdp = rsdp
    self.infoRange = infoRange
  }
}
