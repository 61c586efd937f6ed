// fuzz-modules: BootProtocols
// The Linux bzImage and boot protocol (Documentation/arch/x86/boot.rst): LinuxKernelImage
// parses the setup header; for each of a fixed set of VM sizes and initrd sizes, as profiles
// and modules would give them, LinuxGuestLayout places the pieces and LinuxBootParameters
// builds the zero page, as the kernel's LinuxLoader does.
//
// Input: the bzImage (or its first part: the setup header is all that is read).
import BootProtocols

/// RAM sizes: the least a profile allows, the usual, one just under 4 GiB and beyond it.
let ramSizes: [UInt64] = [1 << 20, 16 << 20, 256 << 20, 0xFEB0_0000, 64 << 30]
/// Initrd sizes: none, one byte, a typical initramfs, and more than RAM.
let initrdSizes: [UInt64] = [0, 1, 1_028_976, 1 << 40]
/// The local APIC and I/O APIC pages LinuxLoader lists in the e820 map.
let devices = [
  PhysicalRange(start: 0xFEE0_0000, end: 0xFEE0_1000),
  PhysicalRange(start: 0xFEC0_0000, end: 0xFEC0_1000),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let image: LinuxKernelImage
  do {
    image = try LinuxKernelImage(parsing: UnsafeRawBufferPointer(start: data, count: size))
  } catch {
    return 0
  }
  precondition(image.kernelPayload.lowerBound > 0 && image.kernelPayload.upperBound == size)
  precondition(!image.kernelPayload.isEmpty, "empty protected-mode kernel")
  precondition(image.setupHeader.count == image.setupHeaderBytes.count, "setup header copy")
  precondition(image.setupHeaderBytes.upperBound <= image.kernelPayload.lowerBound)

  let commandLine = Array("console=ttyS0 root=/dev/ram0".utf8)
  for ramSize in ramSizes {
    for initrdSize in initrdSizes {
      let layout: LinuxGuestLayout
      do {
        layout = try LinuxGuestLayout(
          ramSize: ramSize, image: image, initrdSize: initrdSize, commandLine: commandLine)
      } catch {
        continue
      }
      check(layout, image: image, ramSize: ramSize, initrdSize: initrdSize)
      if let page = try? LinuxBootParameters.build(
        image: image, layout: layout, acpiRSDPAddress: 0xE_0000,
        devices: ramSize <= 0xFEC0_0000 ? devices : [])
      {
        precondition(page.count == LinuxBootParameters.size, "zero page size")
      }
      _ = LinuxEntryState(layout: layout)
    }
  }
  return 0
}

/// What LinuxLoader relies on before it copies anything into guest memory.
func check(_ layout: LinuxGuestLayout, image: LinuxKernelImage, ramSize: UInt64, initrdSize: UInt64)
{
  let kernel = layout.kernelRegion
  precondition(kernel.start == layout.kernelLoadAddress, "kernel region start")
  precondition(kernel.size == UInt64(image.initSize), "kernel region is init_size long")
  precondition(kernel.start >= LinuxGuestLayout.highMemoryStart, "kernel below 1 MiB")
  precondition(kernel.end <= min(ramSize, LinuxGuestLayout.identityMapEnd), "kernel beyond RAM")
  precondition(kernel.end > kernel.start, "kernel region wrapped")
  if image.isRelocatable && kernel.start != image.preferredAddress {
    precondition(kernel.start % UInt64(image.kernelAlignment) == 0, "relocated kernel misaligned")
  }
  if initrdSize == 0 {
    precondition(layout.initrd == nil, "an initrd nobody gave")
  } else {
    guard let initrd = layout.initrd else { preconditionFailure("initrd not placed") }
    precondition(initrd.size == initrdSize, "initrd size")
    precondition(initrd.end <= ramSize && initrd.end > initrd.start, "initrd beyond RAM")
    if !image.canBeLoadedAbove4G {
      precondition(initrd.end <= UInt64(image.initrdAddressMax) + 1, "initrd above initrd_addr_max")
    }
    precondition(!initrd.overlaps(kernel), "initrd overlaps the kernel")
    precondition(initrd.start >= LinuxGuestLayout.highMemoryStart, "initrd in low memory")
  }
  precondition(layout.commandLine.last == 0, "command line NUL")
}
