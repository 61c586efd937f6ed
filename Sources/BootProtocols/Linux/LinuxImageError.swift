/// Why a bzImage cannot be booted through the 64-bit boot protocol
/// (Documentation/arch/x86/boot.rst).
public enum LinuxImageError: Error, Equatable, Sendable {
  /// The image ends before the setup header fields up to handover_offset (0x268).
  case tooSmall
  /// No 0xAA55 `boot_flag` at 0x1FE.
  case missingBootFlag
  /// No "HdrS" `header` magic at 0x202: a pre-2.00 or non-Linux image.
  case missingHeaderMagic
  /// Boot protocol `version` (0x206) below 2.12, which lacks `xloadflags`.
  case protocolTooOld(version: UInt16)
  /// The `jump` at 0x200 is not a short jump, or the header end it gives lies outside
  /// [0x268, 0x290] or the image.
  case headerSizeInvalid
  /// The setup code, (setup_sects + 1) × 512 bytes, extends past the end of the image.
  case setupOutsideImage
  /// No protected-mode kernel follows the setup code.
  case kernelEmpty
  /// `loadflags` lacks LOADED_HIGH: the kernel expects to be loaded at 0x10000.
  case notLoadedHigh
  /// `xloadflags` lacks XLF_KERNEL_64: no 64-bit entry point.
  case not64BitCapable
  /// A relocatable kernel's `kernel_alignment` is not a power of two of at least 4 KiB.
  case invalidKernelAlignment
  /// `init_size` is smaller than the protected-mode kernel it must hold.
  case initSizeTooSmall
  /// `payload_offset` and `payload_length` describe bytes outside the protected-mode kernel.
  case payloadOutsideKernel

  /// A one-line description for the console.
  public var message: StaticString {
    switch self {
    case .tooSmall: "linux image is too small for a setup header"
    case .missingBootFlag: "linux image has no 0xAA55 boot flag"
    case .missingHeaderMagic: "linux image has no HdrS setup header"
    case .protocolTooOld: "linux boot protocol is older than 2.12"
    case .headerSizeInvalid: "linux setup header size is invalid"
    case .setupOutsideImage: "linux setup sectors extend past the image"
    case .kernelEmpty: "linux image has no protected-mode kernel"
    case .notLoadedHigh: "linux kernel cannot be loaded high"
    case .not64BitCapable: "linux kernel has no 64-bit entry point"
    case .invalidKernelAlignment: "linux kernel alignment is invalid"
    case .initSizeTooSmall: "linux init_size is smaller than the kernel"
    case .payloadOutsideKernel: "linux payload lies outside the kernel"
    }
  }
}
