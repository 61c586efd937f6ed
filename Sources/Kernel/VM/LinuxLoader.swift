import BootProtocols
import HypervisorCore

/// Boots an unmodified Linux bzImage in a VM by the Linux x86 boot protocol's 64-bit entry
/// (Documentation/arch/x86/boot.rst): the protected-mode kernel at its preferred address,
/// the initramfs (the module named "initrd vm=NAME"), the command line, the zero page with
/// an e820 map of exactly the VM's memory, ACPI tables describing the VM's machine, a GDT
/// and identity page tables, and the vCPU in long mode at startup_64 with RSI = zero page.
/// A malformed bzImage is refused with what is wrong; the other VMs boot regardless.
enum LinuxLoader {
  static let localAPICPage = PhysicalRange(start: 0xFEE0_0000, end: 0xFEE0_1000)
  static let ioAPICPage = PhysicalRange(start: 0xFEC0_0000, end: 0xFEC0_1000)
  static let pm1aEvent = GuestPlatformDevices.pm1aEvent
  static let pm1aControl = GuestPlatformDevices.pm1aControl
  static let softOffType = GuestPlatformDevices.softOffType

  /// Builds the Linux VM from its bzImage (`images.kernel`) and initramfs; a malformed
  /// image is refused with what is wrong.
  static func build<Backend: VirtualizationBackend>(
    _ profile: VMProfile, images: VMImages, id: Int, backend: Backend,
    console: HypervisorConsole, quiet: Bool
  ) -> Result<VirtualMachine, ManagementRefusal> {
    let bytes = images.kernel
    let kernel: LinuxKernelImage
    do {
      kernel = try LinuxKernelImage(parsing: bytes)
    } catch {
      return .failure(.invalid(error.message))
    }
    let layout: LinuxGuestLayout
    do {
      layout = try LinuxGuestLayout(
        ramSize: profile.memorySize, image: kernel, initrdSize: UInt64(images.initrd?.count ?? 0),
        commandLine: commandLine(profile.guestCommandLine))
    } catch {
      return .failure(.invalid(error.message))
    }
    return VMLoader.create(profile, id: id, backend: backend, console: console, quiet: quiet) {
      vm in
      populate(vm, kernel: kernel, bytes: bytes, layout: layout, initrd: images.initrd)
    }
  }

  /// The profile's command line, plus the TSC rate the hypervisor measured at boot, which
  /// firmware would otherwise report: calibrating against the PIT takes thousands of port
  /// reads, each an exit (`tsc_early_khz`, Documentation/admin-guide/kernel-parameters.txt).
  static func commandLine(_ given: [UInt8]) -> [UInt8] {
    guard KernelCommandLine.value(of: "tsc_early_khz", in: given) == nil,
      LocalAPIC.tscPerMillisecond > 1
    else { return given }
    var line = given
    if !line.isEmpty { line.append(0x20) }
    line += Array("tsc_early_khz=".utf8)
    var digits: [UInt8] = []
    var value = LocalAPIC.tscPerMillisecond
    repeat {
      digits.insert(UInt8(value % 10) + 0x30, at: 0)
      value /= 10
    } while value > 0
    return line + digits
  }

  static func populate(
    _ vm: VirtualMachine, kernel: LinuxKernelImage, bytes: UnsafeRawBufferPointer,
    layout: LinuxGuestLayout,
    initrd: UnsafeRawBufferPointer?
  ) -> StaticString? {
    let memory = vm.memory
    let payload = UnsafeRawBufferPointer(rebasing: bytes[kernel.kernelPayload])
    guard memory.write(payload, to: layout.kernelLoadAddress) else {
      return "the kernel does not fit in the VM's memory"
    }
    if let initrd, let range = layout.initrd {
      guard memory.write(initrd, to: range.start) else {
        return "the initramfs does not fit in the VM's memory"
      }
    }
    let acpi = GuestACPITables.build(
      base: LinuxGuestLayout.acpiTablesAddress, vcpuCount: vm.vcpus.count, pm1aEvent: pm1aEvent,
      pm1aControl: pm1aControl, sleepTypeS5: softOffType,
      pciHostBridge: GuestPCIDescription.hostBridge,
      remappingUnit: GuestPCIDescription.remappingUnit(vm.profile, vcpuCount: vm.vcpus.count))
    let zeroPage: [UInt8]
    do {
      zeroPage = try LinuxBootParameters.build(
        image: kernel, layout: layout, acpiRSDPAddress: acpi.rsdpAddress,
        devices: [localAPICPage, ioAPICPage, GuestPCIDescription.ecamRange])
    } catch {
      return error.message
    }
    let pieces: [(UInt64, [UInt8])] = [
      (LinuxGuestLayout.commandLineAddress, layout.commandLine),
      (acpi.base, acpi.bytes),
      (LinuxGuestLayout.bootParametersAddress, zeroPage),
      (LinuxGuestLayout.gdtAddress, LinuxBootGDT.bytes),
      (
        LinuxGuestLayout.pageTablesAddress,
        LinuxIdentityMap.bytes(at: LinuxGuestLayout.pageTablesAddress)
      ),
    ]
    for (address, piece) in pieces {
      let written = piece.withUnsafeBytes { memory.write($0, to: address) }
      guard written else { return "the boot structures do not fit in the VM's memory" }
    }
    GuestPlatformDevices.installLinux(
      in: vm, clock: vm.deviceClock, wallClock: vm.deviceWallClock)
    vm.initialState = initialState(LinuxEntryState(layout: layout))
    // vCPU 0 enters the kernel; the others wait for INIT and start-up IPIs, as application
    // processors do, and Linux's SMP boot wakes them (SDM 3A §9.4).
    vm.holdApplicationProcessors()
    return nil
  }

  static func initialState(_ entry: LinuxEntryState) -> InitialCPUState {
    func segment(_ s: LinuxSegment) -> InitialCPUState.Segment {
      InitialCPUState.Segment(
        selector: s.selector, base: s.base, limit: s.limit, attributes: s.svmAttributes)
    }
    var state = InitialCPUState(
      code: segment(entry.code), data: segment(entry.data), cr0: entry.cr0, rip: entry.rip)
    state.cr3 = entry.cr3
    state.cr4 = entry.cr4
    state.efer = entry.efer
    state.rsi = entry.rsi
    state.rflags = entry.rflags
    state.gdtBase = entry.gdtBase
    state.gdtLimit = UInt32(entry.gdtLimit)
    return state
  }
}
