/// Offsets of the setup header fields, from the start of the bzImage (and equally of the
/// zero page, which holds a copy at the same offsets). See Documentation/arch/x86/boot.rst,
/// "The Real-Mode Kernel Header"; each field's comment gives its size and protocol version.
enum LinuxSetupHeader {
  static let start = 0x1F1
  static let setupSectors = 0x1F1  // u8, setup_sects; 0 means 4
  static let videoMode = 0x1FA  // u16, vid_mode
  static let bootFlag = 0x1FE  // u16, boot_flag, 0xAA55
  static let jump = 0x200  // u16, jump: 0xEB and an offset from 0x202 to the header's end
  static let magic = 0x202  // u32, header, "HdrS"
  static let version = 0x206  // u16, version, 2.00+
  static let typeOfLoader = 0x210  // u8, type_of_loader, 2.00+
  static let loadFlags = 0x211  // u8, loadflags, 2.00+
  static let code32Start = 0x214  // u32, code32_start, 2.00+
  static let ramdiskImage = 0x218  // u32, ramdisk_image, 2.00+
  static let ramdiskSize = 0x21C  // u32, ramdisk_size, 2.00+
  static let heapEndPointer = 0x224  // u16, heap_end_ptr, 2.01+
  static let commandLinePointer = 0x228  // u32, cmd_line_ptr, 2.02+
  static let initrdAddressMax = 0x22C  // u32, initrd_addr_max, 2.03+
  static let kernelAlignment = 0x230  // u32, kernel_alignment, 2.05+
  static let relocatableKernel = 0x234  // u8, relocatable_kernel, 2.05+
  static let minimumAlignment = 0x235  // u8, min_alignment (a power of two), 2.10+
  static let extendedLoadFlags = 0x236  // u16, xloadflags, 2.12+
  static let commandLineSize = 0x238  // u32, cmdline_size, 2.06+
  static let hardwareSubarchitecture = 0x23C  // u32, hardware_subarch, 2.07+
  static let hardwareSubarchitectureData = 0x240  // u64, hardware_subarch_data, 2.07+
  static let payloadOffset = 0x248  // u32, payload_offset, 2.08+
  static let payloadLength = 0x24C  // u32, payload_length, 2.08+
  static let setupData = 0x250  // u64, setup_data, 2.09+
  static let preferredAddress = 0x258  // u64, pref_address, 2.10+
  static let initSize = 0x260  // u32, init_size, 2.10+
  static let handoverOffset = 0x264  // u32, handover_offset, 2.11+

  /// Protocol 2.12 headers end no earlier than after handover_offset.
  static let minimumEnd = 0x268
  /// The zero page's `edd_mbr_sig_buffer` starts at 0x290 (zero-page.rst), so no header
  /// copied to 0x1F1 may extend past it.
  static let maximumEnd = 0x290

  static let bootFlagValue: UInt16 = 0xAA55
  static let magicValue: UInt32 = 0x5372_6448  // "HdrS" read as little-endian u32
  static let shortJumpOpcode: UInt8 = 0xEB
  /// Protocol 2.12 introduced xloadflags, without which 64-bit entry cannot be detected.
  static let minimumVersion: UInt16 = 0x020C

  /// `loadflags` bit 0, LOADED_HIGH: the protected-mode code is loaded at 0x100000 or above.
  static let loadedHigh: UInt8 = 1 << 0
  /// `xloadflags` bit 0, XLF_KERNEL_64: a 64-bit entry point exists at startup_32 + 0x200.
  static let kernel64: UInt16 = 1 << 0
  /// `xloadflags` bit 1, XLF_CAN_BE_LOADED_ABOVE_4G: kernel, boot_params, command line and
  /// ramdisk may lie above 4 GiB.
  static let canBeLoadedAbove4G: UInt16 = 1 << 1

  /// boot.rst "64-bit Boot Protocol": the 64-bit entry is at the load address plus 0x200.
  static let entry64Offset: UInt64 = 0x200
  /// type_of_loader 0xFF: a boot loader without an assigned ID.
  static let undefinedLoader: UInt8 = 0xFF
  /// vid_mode 0xFFFF: "normal" VGA, i.e. no mode change.
  static let normalVideoMode: UInt16 = 0xFFFF
}
