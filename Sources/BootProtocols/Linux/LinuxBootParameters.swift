/// Builds `struct boot_params`, the zero page (Documentation/arch/x86/zero-page.rst), for the
/// 64-bit boot protocol (Documentation/arch/x86/boot.rst).
public enum LinuxBootParameters {
  /// The zero page is one 4 KiB page.
  public static let size = LinuxZeroPage.size

  /// The zero page for `image` laid out as `layout`, its e820 map listing `devices` as
  /// reserved, to copy to `LinuxGuestLayout.bootParametersAddress`.
  ///
  /// - Parameters:
  ///   - acpiRSDPAddress: The RSDP's guest-physical address, or 0 to let the kernel scan.
  ///   - devices: Guest-physical MMIO ranges, e.g. the local APIC and I/O APIC pages.
  public static func build(
    image: LinuxKernelImage, layout: LinuxGuestLayout, acpiRSDPAddress: UInt64,
    devices: [PhysicalRange]
  ) throws(LinuxLayoutError) -> [UInt8] {
    typealias H = LinuxSetupHeader
    typealias Z = LinuxZeroPage
    let memoryMap = try LinuxE820Table.entries(ramSize: layout.ramSize, devices: devices)
    var page = [UInt8](repeating: 0, count: size)
    // boot.rst, "64-bit Boot Protocol": zero the page, then load the setup header from
    // offset 0x01F1 of the image; it ends at 0x0202 + the byte at 0x0201. The sentinel at
    // 0x1EF stays 0, so the kernel keeps every field set here.
    page.store(image.setupHeader, at: H.start)

    page.storeLittleEndian(H.normalVideoMode, at: H.videoMode)
    page[H.typeOfLoader] = H.undefinedLoader
    page.storeLittleEndian(UInt32(truncatingIfNeeded: layout.kernelLoadAddress), at: H.code32Start)
    page.storeLittleEndian(UInt16(0), at: H.heapEndPointer)
    page.storeLittleEndian(UInt64(0), at: H.setupData)
    page.storeLittleEndian(UInt32(0), at: H.hardwareSubarchitecture)  // X86_SUBARCH_PC
    page.storeLittleEndian(UInt64(0), at: H.hardwareSubarchitectureData)

    store(
      LinuxGuestLayout.commandLineAddress, in: &page, low: H.commandLinePointer,
      high: Z.extendedCommandLinePointer)
    let initrd = layout.initrd ?? PhysicalRange(start: 0, end: 0)
    store(initrd.start, in: &page, low: H.ramdiskImage, high: Z.extendedRamdiskImage)
    store(initrd.size, in: &page, low: H.ramdiskSize, high: Z.extendedRamdiskSize)

    page.storeLittleEndian(acpiRSDPAddress, at: Z.acpiRSDPAddress)
    page[Z.e820EntryCount] = UInt8(memoryMap.count)
    for (index, entry) in memoryMap.enumerated() {
      let offset = Z.e820Table + index * Z.e820EntrySize
      page.storeLittleEndian(entry.address, at: offset)
      page.storeLittleEndian(entry.size, at: offset + 8)
      page.storeLittleEndian(entry.type, at: offset + 16)
    }
    return page
  }

  /// Splits a 64-bit value between a setup header field (bits 31:0) and its zero-page
  /// `ext_` field (bits 63:32).
  static func store(_ value: UInt64, in page: inout [UInt8], low: Int, high: Int) {
    page.storeLittleEndian(UInt32(truncatingIfNeeded: value), at: low)
    page.storeLittleEndian(UInt32(truncatingIfNeeded: value >> 32), at: high)
  }
}
