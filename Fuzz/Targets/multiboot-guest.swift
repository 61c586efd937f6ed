// fuzz-modules: BootProtocols
// A multiboot guest image (Multiboot 0.6.96 §3.1, Multiboot2 2.0 §3.1): MultibootGuestImage
// finds and checks the header and reads the ELF program headers or the address fields;
// for a few VM sizes and module lists MultibootGuestLayout places it and
// MultibootInformation builds the boot information, as the kernel's MultibootLoader does.
//
// Input: the image file (or its head: the header lies in the first 32 KiB).
import BootProtocols

let ramSizes: [UInt64] = [1 << 20, 16 << 20, 256 << 20, 0xFEC0_0000, 64 << 30]
let moduleLists: [[MultibootGuestLayout.Module]] = [
  [], [.init(size: 17, string: Array("mod-one".utf8))],
  [.init(size: 1 << 20, string: []), .init(size: 0, string: Array("empty".utf8))],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let image: MultibootGuestImage
  do {
    image = try MultibootGuestImage(parsing: UnsafeRawBufferPointer(start: data, count: size))
  } catch {
    precondition(!error.message.description.isEmpty)
    return 0
  }
  // What the loader copies from: every segment's bytes inside the file, none overlapping,
  // the entry inside one.
  precondition(!image.segments.isEmpty, "an image with nothing to load")
  for segment in image.segments {
    precondition(segment.fileBytes.lowerBound >= 0 && segment.fileBytes.upperBound <= size)
    precondition(UInt64(segment.fileBytes.count) <= segment.memorySize, "file bytes beyond memsz")
    precondition(segment.address <= UInt64.max - segment.memorySize, "segment wraps")
  }
  precondition(image.segments.contains { image.entry >= $0.address && image.entry < $0.end })
  for ramSize in ramSizes {
    for modules in moduleLists {
      let layout: MultibootGuestLayout
      do {
        layout = try MultibootGuestLayout(ramSize: ramSize, image: image, modules: modules)
      } catch {
        continue
      }
      check(layout, image: image, ramSize: ramSize, modules: modules)
    }
  }
  return 0
}

/// What MultibootLoader relies on before it writes anything into guest memory.
func check(
  _ layout: MultibootGuestLayout, image: MultibootGuestImage, ramSize: UInt64,
  modules: [MultibootGuestLayout.Module]
) {
  for segment in image.segments {
    precondition(segment.end <= ramSize, "segment beyond RAM")
    precondition(
      !segment.overlaps(MultibootGuestLayout.gdtAddress, MultibootGuestLayout.informationEnd),
      "segment over the information area")
  }
  precondition(layout.moduleRanges.count == modules.count)
  var placed: [MultibootInformation.PlacedModule] = []
  for (range, module) in zip(layout.moduleRanges, modules) {
    precondition(range.end <= ramSize && range.size == module.size, "module beyond RAM")
    precondition(range.start % 4096 == 0, "module not page-aligned")
    for segment in image.segments {
      precondition(
        !segment.overlaps(range.start, max(range.end, range.start + 1)), "module over a segment")
    }
    placed.append(.init(range: range, string: module.string))
  }
  for version in [MultibootGuestHeader.Version.v1, .v2] {
    let info = MultibootInformation.build(
      version, layout: layout,
      contents: .init(
        commandLine: Array("fuzz a=b".utf8), loaderName: Array("Peregrine".utf8), modules: placed,
        rsdp: [UInt8](repeating: 0, count: 36)),
      base: MultibootGuestLayout.informationAddress)
    precondition(
      UInt64(info.count)
        <= MultibootGuestLayout.informationEnd - MultibootGuestLayout.informationAddress)
  }
}
