/// A module loaded by the boot loader (Multiboot2 spec §3.6.6), e.g. a guest image.
public struct BootModule: Equatable, Sendable {
  public var range: PhysicalRange
  /// The module's command line, without the terminating NUL.
  public var commandLine: [UInt8]

  public init(range: PhysicalRange, commandLine: [UInt8]) {
    self.range = range
    self.commandLine = commandLine
  }
}
