/// Why a Linux guest's memory cannot be laid out or described.
public enum LinuxLayoutError: Error, Equatable, Sendable {
  /// Guest RAM does not reach 1 MiB, where the kernel and e820's high memory start.
  case ramTooSmall
  /// No address at or above 1 MiB and below min(RAM end, 4 GiB) holds `init_size` bytes
  /// with the alignment the kernel needs.
  case kernelDoesNotFit
  /// The initrd fits nowhere below its ceiling without overlapping the kernel.
  case initrdDoesNotFit
  /// The command line is longer than the kernel's `cmdline_size` or its buffer.
  case commandLineTooLong
  /// The command line contains a NUL byte, which would end it early.
  case commandLineContainsNUL
  /// A device range overlaps guest RAM or the reserved low area.
  case deviceOverlapsRAM
  /// More than the zero page's 128 e820 entries would be needed.
  case tooManyMemoryRegions

  /// A one-line description for the console.
  public var message: StaticString {
    switch self {
    case .ramTooSmall: "linux guest RAM is below 1 MiB"
    case .kernelDoesNotFit: "linux kernel does not fit in guest RAM"
    case .initrdDoesNotFit: "linux initrd does not fit in guest RAM"
    case .commandLineTooLong: "linux command line is too long"
    case .commandLineContainsNUL: "linux command line contains a NUL byte"
    case .deviceOverlapsRAM: "linux guest device range overlaps RAM"
    case .tooManyMemoryRegions: "linux e820 table has too many entries"
    }
  }
}
