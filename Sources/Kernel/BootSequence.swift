import BootProtocols
import CArch
import Memory

/// The steps between the boot stub and the hypervisor proper, in order. Each one either
/// succeeds or panics with a message that names what is wrong: never a silent hang.
enum BootSequence {
  static func readBootInformation(at address: UInt64) -> BootInformation {
    guard address != 0, address & 7 == 0 else {
      panic("multiboot2 information pointer is null or misaligned", value: address)
    }
    // The first field is total_size (Multiboot2 §3.6.1); the parser checks everything else.
    let totalSize = UnsafePointer<UInt32>(bitPattern: UInt(address))!.pointee
    guard totalSize >= 8, totalSize <= 1 << 20 else {
      panic("multiboot2 information block has an implausible total size", value: UInt64(totalSize))
    }
    let bytes = UnsafeRawBufferPointer(
      start: UnsafeRawPointer(bitPattern: UInt(address)), count: Int(totalSize))
    do {
      return try Multiboot2.parse(bytes, physicalAddress: address)
    } catch {
      Console.write("\n*** PEREGRINE PANIC: bad multiboot2 information: ")
      Console.write(error.message)
      Console.write("\n")
      Machine.halt(status: .panic)
    }
  }

  static func applyCommandLine(_ line: [UInt8]) {
    if let level = KernelCommandLine.value(of: "loglevel", in: line) {
      Log.setThreshold(named: level)
    }
    if Log.begin(.info) {
      Console.write("command line: ")
      // The cluster key authenticates control requests: never on the console.
      Console.write(bytes: KernelCommandLine.redacting("cluster_key", in: line))
      Log.end()
    }
  }

  static func findSymbols(in boot: BootInformation) {
    for module in boot.modules where module.commandLine == Array("symbols".utf8) {
      Symbols.table = UnsafeRawBufferPointer(
        start: UnsafeRawPointer(bitPattern: UInt(module.range.start)), count: Int(module.range.size)
      )
    }
  }

  static func printMemoryMap(_ map: [MemoryRegion]) {
    guard Log.begin(.info) else { return }
    Console.write("memory map:")
    Log.end()
    var usable: UInt64 = 0
    for region in map {
      Console.write("  ")
      Console.write(hex: region.range.start, digits: 12)
      Console.write(" - ")
      Console.write(hex: region.range.end, digits: 12)
      Console.write("  ")
      switch region.kind {
      case .usable:
        Console.write("usable")
        usable += region.range.size
      case .reserved: Console.write("reserved")
      case .acpiReclaimable: Console.write("ACPI reclaimable")
      case .acpiNVS: Console.write("ACPI NVS")
      case .defective: Console.write("defective")
      case .other(let type):
        Console.write("type ")
        Console.write(decimal: UInt64(type))
      }
      Console.write("\n")
    }
    Log.begin(.info)
    Console.write("usable memory: ")
    Console.write(decimal: usable >> 20)
    Console.write(" MiB")
    Log.end()
  }

  /// Everything the allocator must never hand out: the first MiB (real-mode structures,
  /// BIOS data, the future AP trampoline), the kernel image with its stacks and heap, the
  /// multiboot2 information block and every module (guest images, symbols).
  static func initializeFrameAllocator(_ boot: BootInformation) {
    let usable = boot.memoryMap.filter { $0.kind == .usable }.map {
      PhysicalRegion(start: $0.range.start, end: $0.range.end)
    }
    var reserved = [
      PhysicalRegion(start: 0, end: 0x10_0000),
      PhysicalRegion(start: KernelLayout.start, end: KernelLayout.end),
      PhysicalRegion(start: boot.infoRange.start, end: boot.infoRange.end),
    ]
    for module in boot.modules {
      reserved.append(PhysicalRegion(start: module.range.start, end: module.range.end))
    }
    PhysicalFrames.allocator = FrameAllocator(usable: usable, reserved: reserved)
    if Log.begin(.info) {
      Console.write("frame allocator: ")
      Console.write(decimal: UInt64(PhysicalFrames.freeFrames))
      Console.write(" free frames (")
      Console.write(decimal: (UInt64(PhysicalFrames.freeFrames) * 4096) >> 20)
      Console.write(" MiB)")
      Log.end()
    }
  }

  static func initializeKernelPageTables(_ boot: BootInformation) {
    // Map RAM and, at least, everything below 4 GiB where the platform's MMIO lives.
    // Reserved windows far above RAM (the HyperTransport hole at 1012 GiB) stay unmapped.
    var top: UInt64 = 1 << 32
    for region in boot.memoryMap where region.kind != .reserved && region.range.end > top {
      top = region.range.end
    }
    top = (top + 0x3FFF_FFFF) & ~0x3FFF_FFFF
    do {
      try KernelPageTables.build(top: top)
    } catch {
      panic("could not build the kernel page tables")
    }
    if Log.begin(.info) {
      Console.write("kernel page tables: text ")
      Console.write(hex: KernelLayout.text.start)
      Console.write("-")
      Console.write(hex: KernelLayout.text.end)
      Console.write(" RX, rodata RO, data NX, stack guard at ")
      Console.write(hex: KernelLayout.stackGuard)
      Console.write(", ")
      Console.write(decimal: top >> 30)
      Console.write(" GiB identity mapped")
      Log.end()
    }
  }
}
