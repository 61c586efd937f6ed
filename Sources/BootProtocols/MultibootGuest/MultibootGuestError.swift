/// Why a multiboot image cannot be booted as a guest (Multiboot Specification 0.6.96 §3.1,
/// Multiboot2 Specification 2.0 §3.1), or why it does not fit its VM.
public enum MultibootGuestError: Error, Equatable, Sendable {
  /// No v1 magic in the first 8 KiB, no v2 magic in the first 32 KiB (at their alignments).
  case noHeader
  /// magic + flags + checksum (v1), or magic + architecture + header_length + checksum (v2),
  /// is not 0 modulo 2^32.
  case badChecksum
  /// A v1 flag in bits 0-15 this loader does not know: the image requires it.
  case unknownRequiredFlags(UInt32)
  /// A v2 header for another architecture than i386 protected mode (0).
  case unsupportedArchitecture(UInt32)
  /// A v2 header_length shorter than the header, past the 32 KiB, or a tag that overruns it.
  case malformedHeader
  /// A v2 header tag without the optional flag that this loader cannot honour.
  case unsupportedRequiredTag(UInt16)
  /// A v2 information request, not optional, for information this loader does not give.
  case unsupportedInformationRequest(UInt32)
  /// Neither an ELF executable nor address fields (the a.out kludge).
  case notELF
  /// The ELF header or program headers are malformed, or not 32/64-bit little-endian x86.
  case malformedELF
  /// The ELF has no PT_LOAD segment with bytes in memory.
  case noLoadableSegments
  /// A segment's file bytes (or the address fields' load range) lie outside the image.
  case segmentOutsideFile
  /// Address fields out of order: header_addr < load_addr, load_end_addr < load_addr,
  /// bss_end_addr < load_end_addr, or a load address before the file's start.
  case invalidAddressFields
  /// A v2 image with address fields but no entry address tag.
  case missingEntryAddress
  /// Two loadable segments overlap.
  case segmentsOverlap
  /// A segment ends past the VM's memory (or past 4 GiB).
  case segmentOutsideMemory
  /// A segment overlaps the area where the boot information and GDT are placed.
  case segmentOverlapsInformation
  /// A segment overlaps the BIOS area (0x9FC00-0xFFFFF), which holds the ACPI tables.
  case segmentOverlapsFirmware
  /// The entry point lies in no loaded segment.
  case entryOutsideSegments
  /// The modules do not fit in the VM's memory after the kernel.
  case modulesDoNotFit
  /// The command lines and module list do not fit in the information area.
  case informationTooLarge
  /// The VM's memory reaches the local and I/O APIC pages (0xFEC00000).
  case memoryOverlapsDevices

  /// A one-line description for the console.
  public var message: StaticString {
    switch self {
    case .noHeader:
      return "no multiboot header (v1 in the first 8 KiB, v2 in the first 32 KiB)"
    case .badChecksum: return "the multiboot header's checksum is wrong"
    case .unknownRequiredFlags:
      return "the multiboot header requires flags this loader does not know"
    case .unsupportedArchitecture:
      return "the multiboot2 header is not for i386 protected mode"
    case .malformedHeader: return "the multiboot2 header's length or tags are malformed"
    case .unsupportedRequiredTag:
      return "the multiboot2 header has a required tag this loader cannot honour"
    case .unsupportedInformationRequest:
      return "the multiboot2 header requires information this loader does not give"
    case .notELF: return "the image is not ELF and its header has no address fields"
    case .malformedELF: return "the ELF header is malformed or not x86 little-endian"
    case .noLoadableSegments: return "the ELF has no loadable segment"
    case .segmentOutsideFile: return "a segment's bytes lie outside the image file"
    case .invalidAddressFields: return "the multiboot address fields are out of order"
    case .missingEntryAddress:
      return "the multiboot2 header has address fields but no entry address"
    case .segmentsOverlap: return "two loadable segments overlap"
    case .segmentOutsideMemory: return "a segment lies outside the VM's memory"
    case .segmentOverlapsInformation:
      return "a segment overlaps the boot information area (0x10000-0x8FFFF)"
    case .segmentOverlapsFirmware:
      return "a segment overlaps the BIOS area (0x9FC00-0xFFFFF) holding the ACPI tables"
    case .entryOutsideSegments: return "the entry point lies outside the loaded segments"
    case .modulesDoNotFit: return "the modules do not fit in the VM's memory after the kernel"
    case .informationTooLarge:
      return "the command line and module strings do not fit in the information area"
    case .memoryOverlapsDevices:
      return "a multiboot VM's memory must end below the APIC pages at 0xFEC00000"
    }
  }
}
