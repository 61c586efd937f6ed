import BootProtocols
import CArch

/// The real-mode start-up code of the application processors (boot/ap_trampoline.asm) in
/// its page below 1 MiB, and the parameter block in it through which the bootstrap
/// processor hands each AP its page tables, control registers, GS area and stack.
///
/// Why 0x8000 (and 0x9000 for the smp_test_fail page) is safe: BootSequence keeps the whole
/// first MiB out of the frame allocator, so no VM, page table or heap ever lands there; the
/// pages lie above the real-mode IVT and BIOS data area (0 - 0x4FF) and below the EBDA and
/// the legacy video and ROM windows (0x9FC00 and up); GRUB, which used low memory, is gone
/// once kmain runs; and a start-up IPI's vector 0x08 or 0x09 is valid (SDM 3A §9.4.4.1,
/// vectors 0xA0-0xBF are reserved). `install` still checks that the firmware's memory map
/// calls both pages RAM and that no boot module or the multiboot2 block overlaps them.
enum APTrampoline {
  static let base = UInt64(AP_TRAMPOLINE_BASE)
  static let mutePage = UInt64(AP_MUTE_PAGE_BASE)
  static var startupVector: UInt8 { UInt8(base >> 12) }
  static var muteVector: UInt8 { UInt8(mutePage >> 12) }

  /// Copies the code into place; false (with the reason logged) if the pages are not free.
  static func install(_ boot: BootInformation) -> Bool {
    let pages = PhysicalRange(start: base, end: mutePage + 0x1000)
    let inRAM = boot.memoryMap.contains {
      $0.kind == .usable && $0.range.start <= pages.start && $0.range.end >= pages.end
    }
    let taken =
      boot.infoRange.overlaps(pages) || boot.modules.contains { $0.range.overlaps(pages) }
    guard inRAM, !taken, ap_trampoline_size() <= 4096, ap_mute_size() <= 4096 else {
      Log.warning(
        "smp: the start-up pages at 0x8000-0x9FFF are not free RAM; running on the bootstrap processor only"
      )
      return false
    }
    copy(from: ap_trampoline_code(), count: ap_trampoline_size(), to: base)
    copy(from: ap_mute_code(), count: ap_mute_size(), to: mutePage)
    // What every AP loads as the bootstrap processor has it (boot/multiboot2_entry.asm):
    // CR4 without VMXE (bit 13), which the backend sets itself; EFER's LME and NXE
    // (bits 8 and 11) only, not SVME or the read-only LMA.
    let block = ap_trampoline_block()!
    block.pointee.kernel_cr3 = KernelPageTables.root
    block.pointee.cr0 = arch_read_cr0()
    block.pointee.cr4 = arch_read_cr4() & ~(1 << 13)
    block.pointee.efer = arch_rdmsr(0xC000_0080) & (1 << 8 | 1 << 11)
    block.pointee.state = AP_SLOT_CANCELLED
    return true
  }

  /// Opens the block to the AP with `apicID`, which will run on `stackTop` with GS at
  /// `localArea`; returns the "started" count to compare against.
  static func prepare(apicID: UInt32, localArea: UInt64, stackTop: UInt64) -> UInt32 {
    let block = ap_trampoline_block()!
    block.pointee.local_area = localArea
    block.pointee.stack_top = stackTop
    ap_block_open(apicID)
    return ap_block_load_started()
  }

  /// Whether some AP ran the trampoline's first instructions since `count` was read.
  static func anyStarted(since count: UInt32) -> Bool { ap_block_load_started() != count }

  static var claimed: Bool { ap_block_load_state() == AP_SLOT_CLAIMED }

  /// Closes the block unless its AP claimed it already: true when the AP never will.
  static func cancel() -> Bool { ap_block_cancel() }

  private static func copy(from source: UInt64, count: UInt64, to destination: UInt64) {
    let from = UnsafeRawPointer(bitPattern: UInt(source))!
    let to = UnsafeMutableRawPointer(bitPattern: UInt(destination))!
    to.copyMemory(from: from, byteCount: Int(count))
  }
}
