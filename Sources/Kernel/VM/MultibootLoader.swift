import BootProtocols
import HypervisorCore

/// Boots a multiboot (v1 or v2) kernel in a VM, as GRUB or QEMU's `-kernel` would
/// (docs/multiboot-guest.md): its segments where its ELF or address fields put them, its
/// modules (boot modules named "module vm=NAME [STRING]") after it, the boot information and
/// a flat GDT at 0x10000, ACPI tables at 0xE0000 (found by the BIOS-area scan and through
/// the v2 RSDP tags), and vCPU 0 in 32-bit protected mode at the entry with EAX the magic and
/// EBX the information. The platform is Linux's (local APICs, I/O APIC, PIT, PM1 power-off,
/// reset) plus the ACPI PM timer and fw_cfg that test kernels read. A malformed image is
/// refused with the reason; the other VMs boot regardless.
enum MultibootLoader {
  static let pmTimer = GuestPlatformDevices.pmTimer
  static let loaderName = Array("Peregrine".utf8)

  static func build<Backend: VirtualizationBackend>(
    _ profile: VMProfile, images: VMImages, id: Int, backend: Backend,
    console: HypervisorConsole, quiet: Bool
  ) -> Result<VirtualMachine, ManagementRefusal> {
    let image: MultibootGuestImage
    let layout: MultibootGuestLayout
    do {
      image = try MultibootGuestImage(parsing: images.kernel)
      layout = try MultibootGuestLayout(
        ramSize: profile.memorySize, image: image,
        modules: images.modules.map {
          MultibootGuestLayout.Module(size: UInt64($0.bytes.count), string: $0.string)
        })
    } catch {
      return .failure(.invalid(error.message))
    }
    return VMLoader.create(profile, id: id, backend: backend, console: console, quiet: quiet) {
      vm in
      populate(vm, image: image, layout: layout, images: images)
    }
  }

  /// The command line the guest sees: the VM's name, then the profile's words, as GRUB and
  /// QEMU give the image's path first (kvm-unit-tests takes the first word as argv[0]).
  static func commandLine(_ profile: VMProfile) -> [UInt8] {
    profile.guestCommandLine.isEmpty
      ? profile.name : profile.name + [UInt8(ascii: " ")] + profile.guestCommandLine
  }

  static func populate(
    _ vm: VirtualMachine, image: MultibootGuestImage, layout: MultibootGuestLayout,
    images: VMImages
  ) -> StaticString? {
    let memory = vm.memory
    for segment in image.segments {
      let bytes = UnsafeRawBufferPointer(rebasing: images.kernel[segment.fileBytes])
      guard memory.write(bytes, to: segment.address) else {
        return "a segment does not fit in the VM's memory"
      }
      // Guest memory starts zeroed; bss needs nothing more.
    }
    var placed: [MultibootInformation.PlacedModule] = []
    for (index, module) in images.modules.enumerated() {
      let range = layout.moduleRanges[index]
      guard memory.write(module.bytes, to: range.start) else {
        return "a module does not fit in the VM's memory"
      }
      placed.append(MultibootInformation.PlacedModule(range: range, string: module.string))
    }
    let acpi = GuestACPITables.build(
      base: MultibootGuestLayout.acpiTablesAddress, vcpuCount: vm.vcpus.count,
      pm1aEvent: LinuxLoader.pm1aEvent, pm1aControl: LinuxLoader.pm1aControl,
      sleepTypeS5: LinuxLoader.softOffType, pmTimer: pmTimer,
      pciHostBridge: GuestPCIDescription.hostBridge,
      remappingUnit: GuestPCIDescription.remappingUnit(vm.profile, vcpuCount: vm.vcpus.count))
    let version = image.header.version
    let information = MultibootInformation.build(
      version, layout: layout,
      contents: MultibootInformation.Contents(
        commandLine: commandLine(vm.profile), loaderName: loaderName, modules: placed,
        rsdp: Array(acpi.bytes[0..<36])),
      base: MultibootGuestLayout.informationAddress)
    guard
      UInt64(information.count)
        <= MultibootGuestLayout.informationEnd - MultibootGuestLayout.informationAddress
    else { return MultibootGuestError.informationTooLarge.message }
    let pieces: [(UInt64, [UInt8])] = [
      (MultibootGuestLayout.gdtAddress, MultibootGuestLayout.gdt),
      (MultibootGuestLayout.informationAddress, information),
      (acpi.base, acpi.bytes),
    ]
    for (address, piece) in pieces {
      guard piece.withUnsafeBytes({ memory.write($0, to: address) }) else {
        return "the boot information does not fit in the VM's memory"
      }
    }
    installPlatform(in: vm)
    vm.initialState = .multiboot(
      entry: image.entry, magic: MultibootInformation.entryMagic(version),
      information: MultibootGuestLayout.informationAddress,
      gdtBase: MultibootGuestLayout.gdtAddress)
    // vCPU 0 enters the kernel; the others wait for INIT and start-up IPIs (SDM 3A §9.4).
    vm.holdApplicationProcessors()
    return nil
  }

  /// Linux's platform, plus the PM timer the FADT names and fw_cfg.
  static func installPlatform(in vm: VirtualMachine) {
    GuestPlatformDevices.installMultiboot(
      in: vm, clock: vm.deviceClock, wallClock: vm.deviceWallClock)
  }
}
