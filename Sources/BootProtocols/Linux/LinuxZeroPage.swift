/// Offsets in `struct boot_params`, the 4 KiB "zero page" the boot loader hands the kernel
/// (Documentation/arch/x86/zero-page.rst). The setup header lives at 0x1F1, at the same
/// offsets as in the image (`LinuxSetupHeader`).
enum LinuxZeroPage {
  static let size = 0x1000
  static let acpiRSDPAddress = 0x070  // u64, acpi_rsdp_addr
  static let extendedRamdiskImage = 0x0C0  // u32, ext_ramdisk_image (bits 63:32)
  static let extendedRamdiskSize = 0x0C4  // u32, ext_ramdisk_size (bits 63:32)
  static let extendedCommandLinePointer = 0x0C8  // u32, ext_cmd_line_ptr (bits 63:32)
  static let e820EntryCount = 0x1E8  // u8, e820_entries
  static let sentinel = 0x1EF  // u8, sentinel: must be 0 or the kernel clears fields
  static let e820Table = 0x2D0  // 128 × struct boot_e820_entry, e820_table
  static let e820EntrySize = 20  // u64 addr, u64 size, u32 type
  static let e820Capacity = 128  // E820_MAX_ENTRIES_ZEROPAGE
}
