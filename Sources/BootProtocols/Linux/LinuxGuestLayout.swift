/// Where a Linux guest's boot pieces go in guest-physical memory, for guest RAM at
/// [0, `ramSize`).
///
/// Fixed low-memory structures (all below the EBDA at 0x9FC00, or in the reserved BIOS area):
///
/// | address | what |
/// |---|---|
/// | 0x7000 | boot_params, the zero page (4 KiB) |
/// | 0x8000 | GDT with __BOOT_CS 0x10 and __BOOT_DS 0x18 |
/// | 0x9000 | PML4, then PDPT at 0xA000 and four page directories at 0xB000–0xEFFF |
/// | 0x20000 | the NUL-terminated command line |
/// | 0xE0000 | ACPI tables, RSDP first (reserved in e820, found by the legacy scan too) |
///
/// The kernel goes at or above 1 MiB and the initrd as high as its ceiling allows
/// (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol" and the initrd_addr_max field).
public struct LinuxGuestLayout: Equatable, Sendable {
  public static let bootParametersAddress: UInt64 = 0x7000
  public static let gdtAddress: UInt64 = 0x8000
  /// PML4 address; `LinuxIdentityMap` describes the tables that follow it.
  public static let pageTablesAddress: UInt64 = 0x9000
  public static let commandLineAddress: UInt64 = 0x2_0000
  public static let acpiTablesAddress: UInt64 = 0xE_0000
  /// End of conventional memory: the EBDA, VGA hole and BIOS area up to 1 MiB are reserved.
  public static let lowMemoryEnd: UInt64 = 0x9_FC00
  /// Start of "high" memory, where a LOADED_HIGH kernel goes.
  public static let highMemoryStart: UInt64 = 0x10_0000
  /// A relocatable kernel whose pref_address does not fit is tried here next.
  public static let relocatedKernelFloor: UInt64 = 0x100_0000
  /// The identity map built for the 64-bit entry covers [0, 4 GiB).
  public static let identityMapEnd: UInt64 = 0x1_0000_0000
  /// The initrd's start and size are rounded to pages.
  public static let initrdAlignment: UInt64 = 0x1000

  /// Guest RAM size in bytes, RAM being [0, ramSize).
  public var ramSize: UInt64
  /// Where the protected-mode kernel (`LinuxKernelImage.kernelPayload`) is copied.
  public var kernelLoadAddress: UInt64
  /// [kernelLoadAddress, + init_size): memory the kernel uses while it unpacks.
  public var kernelRegion: PhysicalRange
  /// Where the initrd is copied; nil without one. Its size is the initrd's exact size.
  public var initrd: PhysicalRange?
  /// The command line with its terminating NUL, to copy to `commandLineAddress`.
  public var commandLine: [UInt8]

  /// The 64-bit entry point, startup_32 + 0x200 (boot.rst, "64-bit Boot Protocol").
  public var entryPoint: UInt64 { kernelLoadAddress + LinuxKernelImage.entry64Offset }

  /// Chooses addresses for `image`, an initrd of `initrdSize` bytes (0 for none) and
  /// `commandLine` (without NUL) in `ramSize` bytes of guest RAM.
  public init(
    ramSize: UInt64, image: LinuxKernelImage, initrdSize: UInt64, commandLine: [UInt8]
  ) throws(LinuxLayoutError) {
    guard ramSize >= Self.highMemoryStart else { throw .ramTooSmall }
    // cmdline_size excludes the NUL (boot.rst, cmdline_size); the buffer ends at the EBDA.
    guard UInt64(commandLine.count) <= UInt64(image.commandLineSizeLimit),
      Self.commandLineAddress + UInt64(commandLine.count) + 1 <= Self.lowMemoryEnd
    else { throw .commandLineTooLong }
    guard !commandLine.contains(0) else { throw .commandLineContainsNUL }

    let kernelCeiling = min(ramSize, Self.identityMapEnd)
    guard let load = Self.placeKernel(image, below: kernelCeiling) else {
      throw .kernelDoesNotFit
    }
    let region = PhysicalRange(start: load, end: load + UInt64(image.initSize))

    self.ramSize = ramSize
    kernelLoadAddress = load
    kernelRegion = region
    self.commandLine = commandLine + [0]
    initrd = nil
    if initrdSize > 0 {
      let ceiling = Self.initrdCeiling(image, ramSize: ramSize)
      guard let start = Self.placeInitrd(size: initrdSize, below: ceiling, avoiding: region)
      else { throw .initrdDoesNotFit }
      initrd = PhysicalRange(start: start, end: start + initrdSize)
    }
  }

  /// pref_address when [pref, + init_size) fits in [1 MiB, ceiling); otherwise, for a
  /// relocatable kernel, the first kernel_alignment boundary at or above 16 MiB, then at or
  /// above 1 MiB. A non-relocatable kernel runs only at pref_address.
  static func placeKernel(_ image: LinuxKernelImage, below ceiling: UInt64) -> UInt64? {
    var candidates = [image.preferredAddress]
    if image.isRelocatable {
      let alignment = UInt64(image.kernelAlignment)
      candidates.append(alignUp(relocatedKernelFloor, to: alignment))
      candidates.append(alignUp(highMemoryStart, to: alignment))
    }
    let size = UInt64(image.initSize)
    for start in candidates
    where start >= highMemoryStart && start <= ceiling && size <= ceiling - start {
      return start
    }
    return nil
  }

  /// The end of the memory the initrd may occupy: RAM's end, lowered to initrd_addr_max + 1
  /// and 4 GiB unless xloadflags has XLF_CAN_BE_LOADED_ABOVE_4G.
  static func initrdCeiling(_ image: LinuxKernelImage, ramSize: UInt64) -> UInt64 {
    if image.canBeLoadedAbove4G { return ramSize }
    return min(ramSize, UInt64(image.initrdAddressMax) + 1, identityMapEnd)
  }

  /// The highest page-aligned start in [1 MiB, ceiling) that keeps `size` bytes clear of
  /// `kernel`: just below the ceiling, else just below the kernel.
  static func placeInitrd(size: UInt64, below ceiling: UInt64, avoiding kernel: PhysicalRange)
    -> UInt64?
  {
    let limits = [ceiling, min(ceiling, kernel.start)]
    for limit in limits where limit >= size {
      let start = alignDown(limit - size, to: initrdAlignment)
      let range = PhysicalRange(start: start, end: start + size)
      if start >= highMemoryStart, !range.overlaps(kernel) { return start }
    }
    return nil
  }

  static func alignUp(_ value: UInt64, to alignment: UInt64) -> UInt64 {
    (value + alignment - 1) & ~(alignment - 1)
  }

  static func alignDown(_ value: UInt64, to alignment: UInt64) -> UInt64 {
    value & ~(alignment - 1)
  }
}
