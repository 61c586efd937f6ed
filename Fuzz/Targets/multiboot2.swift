// fuzz-modules: BootProtocols
// The multiboot2 information block (Multiboot2 spec §3.6), as GRUB hands it over in EBX,
// then the kernel command line words read from it.
//
// Input: the block itself, as if it lay at physical address 0x10000.
import BootProtocols

/// An 8-byte aligned address, as §3.6.2 requires of the block.
let blockAddress: UInt64 = 0x1_0000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let block = UnsafeRawBufferPointer(start: data, count: size)
  let info: BootInformation
  do {
    info = try Multiboot2.parse(block, physicalAddress: blockAddress)
  } catch {
    return 0
  }
  precondition(Int(info.totalSize) <= size, "total_size beyond the block")
  precondition(info.infoRange.start == blockAddress, "info range start")
  precondition(info.infoRange.size == UInt64(info.totalSize), "info range size")
  precondition(!info.memoryMap.isEmpty, "a parsed block has a memory map")
  var previousEnd: UInt64 = 0
  for region in info.memoryMap {
    precondition(region.range.start < region.range.end, "empty or inverted region")
    precondition(region.range.start >= previousEnd, "regions overlap or are out of order")
    previousEnd = region.range.end
  }
  for module in info.modules {
    precondition(module.range.start <= module.range.end, "inverted module")
    precondition(!module.commandLine.contains(0), "NUL inside a module string")
  }
  switch info.rsdp {
  case .v1(let address, _), .v2(let address, _):
    precondition(address >= blockAddress && address < info.infoRange.end, "RSDP outside the block")
  case nil: break
  }
  _ = KernelCommandLine.value(of: "loglevel", in: info.commandLine)
  _ = KernelCommandLine.contains(flag: "selftest", in: info.commandLine)
  return 0
}
