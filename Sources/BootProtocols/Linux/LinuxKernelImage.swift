/// A validated x86 Linux bzImage, as needed for the 64-bit boot protocol
/// (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header" and "64-bit Boot Protocol").
///
/// The image is a real-mode boot sector and setup code of (setup_sects + 1) × 512 bytes,
/// followed by the protected-mode kernel, which the boot loader copies to the load address.
/// Parsing copies what it needs, so the buffer may be released afterwards.
public struct LinuxKernelImage: Equatable, Sendable {
  /// Boot protocol version (0x206), e.g. 0x020F for 2.15.
  public var protocolVersion: UInt16
  /// Number of 512-byte setup sectors after the boot sector (0x1F1, 0 read as 4).
  public var setupSectors: Int
  /// Offsets of the protected-mode kernel in the image: everything after the setup code.
  public var kernelPayload: Range<Int>
  /// Offsets of the setup header in the image, 0x1F1 up to the end the jump at 0x200 gives.
  public var setupHeaderBytes: Range<Int>
  /// A copy of the bytes in `setupHeaderBytes`, for the zero page.
  public var setupHeader: [UInt8]
  /// `loadflags` (0x211).
  public var loadFlags: UInt8
  /// `xloadflags` (0x236).
  public var extendedLoadFlags: UInt16
  /// `relocatable_kernel` (0x234): the kernel may be loaded at any suitably aligned address.
  public var isRelocatable: Bool
  /// `kernel_alignment` (0x230): the alignment a relocatable kernel prefers.
  public var kernelAlignment: UInt32
  /// `min_alignment` (0x235): log2 of the least alignment a relocatable kernel accepts.
  public var minimumAlignmentShift: UInt8
  /// `pref_address` (0x258): where the kernel prefers to be loaded.
  public var preferredAddress: UInt64
  /// `init_size` (0x260): bytes from the load address the kernel needs while it unpacks.
  public var initSize: UInt32
  /// `cmdline_size` (0x238): the longest command line, not counting its NUL.
  public var commandLineSizeLimit: UInt32
  /// `initrd_addr_max` (0x22C): the highest address the initrd may occupy.
  public var initrdAddressMax: UInt32
  /// `payload_offset` (0x248), relative to the protected-mode kernel.
  public var payloadOffset: UInt32
  /// `payload_length` (0x24C).
  public var payloadLength: UInt32
  /// `handover_offset` (0x264): the EFI handover entry, unused by this loader.
  public var handoverOffset: UInt32

  /// xloadflags XLF_CAN_BE_LOADED_ABOVE_4G.
  public var canBeLoadedAbove4G: Bool {
    extendedLoadFlags & LinuxSetupHeader.canBeLoadedAbove4G != 0
  }

  /// Offset of the 64-bit entry point from the load address (startup_32 + 0x200).
  public static let entry64Offset = LinuxSetupHeader.entry64Offset

  /// Validates `image` and reads its setup header.
  public init(parsing image: UnsafeRawBufferPointer) throws(LinuxImageError) {
    typealias H = LinuxSetupHeader
    guard image.count >= H.minimumEnd else { throw .tooSmall }
    let bytes = TableBytes(image)
    guard bytes.u16(at: H.bootFlag) == H.bootFlagValue else { throw .missingBootFlag }
    guard bytes.u32(at: H.magic) == H.magicValue else { throw .missingHeaderMagic }
    let version = bytes.u16(at: H.version)
    guard version >= H.minimumVersion else { throw .protocolTooOld(version: version) }

    // "The jump ... can be used to determine the size of the header" (boot.rst, jump).
    let headerEnd = H.magic + Int(bytes[H.jump + 1])
    guard bytes[H.jump] == H.shortJumpOpcode, headerEnd >= H.minimumEnd,
      headerEnd <= H.maximumEnd, headerEnd <= image.count
    else { throw .headerSizeInvalid }

    let sectors = bytes[H.setupSectors] == 0 ? 4 : Int(bytes[H.setupSectors])
    let kernelStart = (sectors + 1) * 512
    guard kernelStart <= image.count else { throw .setupOutsideImage }
    guard kernelStart < image.count else { throw .kernelEmpty }

    protocolVersion = version
    setupSectors = sectors
    kernelPayload = kernelStart..<image.count
    setupHeaderBytes = H.start..<headerEnd
    setupHeader = bytes.array(at: H.start, count: headerEnd - H.start)
    loadFlags = bytes[H.loadFlags]
    extendedLoadFlags = bytes.u16(at: H.extendedLoadFlags)
    isRelocatable = bytes[H.relocatableKernel] != 0
    kernelAlignment = bytes.u32(at: H.kernelAlignment)
    minimumAlignmentShift = bytes[H.minimumAlignment]
    preferredAddress = bytes.u64(at: H.preferredAddress)
    initSize = bytes.u32(at: H.initSize)
    commandLineSizeLimit = bytes.u32(at: H.commandLineSize)
    initrdAddressMax = bytes.u32(at: H.initrdAddressMax)
    payloadOffset = bytes.u32(at: H.payloadOffset)
    payloadLength = bytes.u32(at: H.payloadLength)
    handoverOffset = bytes.u32(at: H.handoverOffset)
    try validateKernel()
  }

  /// Checks the fields the 64-bit boot protocol relies on.
  private func validateKernel() throws(LinuxImageError) {
    guard loadFlags & LinuxSetupHeader.loadedHigh != 0 else { throw .notLoadedHigh }
    guard extendedLoadFlags & LinuxSetupHeader.kernel64 != 0 else { throw .not64BitCapable }
    if isRelocatable {
      let alignment = kernelAlignment
      guard alignment >= 0x1000, alignment & (alignment - 1) == 0 else {
        throw .invalidKernelAlignment
      }
    }
    let kernelSize = UInt64(kernelPayload.count)
    guard UInt64(initSize) >= kernelSize else { throw .initSizeTooSmall }
    guard UInt64(payloadOffset) + UInt64(payloadLength) <= kernelSize else {
      throw .payloadOutsideKernel
    }
  }
}
