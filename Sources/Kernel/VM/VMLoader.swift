import BootProtocols
import HypervisorCore
import Memory

/// Creates the VMs the boot modules describe: each module whose command line starts with
/// "vm" is a flat guest image with its profile (VMProfile). A bad profile or image is
/// refused with a message naming the module; the other VMs are created regardless.
enum VMLoader {
  static func isProfile(_ commandLine: [UInt8]) -> Bool {
    commandLine == Array("vm".utf8) || commandLine.starts(with: Array("vm ".utf8))
  }

  /// Creates the VM of every boot module with a profile through the VM manager, as the
  /// control plane creates one at run time. A module whose profile is named `held` is not
  /// started: a test script uses its image (`ManagementScripts`).
  static func createBootVMs<Backend: VirtualizationBackend>(
    from boot: BootInformation, manager: VMManager<Backend>, held: [UInt8]? = nil
  ) {
    VMDiskReport.hashOnRelease = KernelCommandLine.contains(flag: "disk_hash", in: boot.commandLine)
    var moduleNumber = 0
    for module in boot.modules where isProfile(module.commandLine) {
      moduleNumber += 1
      let profile: VMProfile
      switch VMProfile.parse(module.commandLine) {
      case .success(let parsed): profile = parsed
      case .failure(let error):
        refuse(moduleNumber, module.commandLine, error.message, key: error.key)
        continue
      }
      if let held, profile.name == held { continue }
      switch manager.create(profile, images: images(of: module, profile: profile, boot: boot)) {
      case .success: break
      case .failure(let refusal):
        refuse(moduleNumber, module.commandLine, refusal.message)
        if case .placement(let placementRefusal) = refusal {
          Log.begin(.error)
          Console.write("  ")
          Console.write(
            bytes: placementRefusal.describe { manager.name(of: $0) ?? profile.name })
          Log.end()
        }
      }
    }
  }

  /// The module's bytes, for a Linux guest the module named "initrd vm=NAME", and for a
  /// multiboot guest every module named "module vm=NAME [STRING]", in order, with STRING.
  static func images(of module: BootModule, profile: VMProfile, boot: BootInformation)
    -> VMImages
  {
    var images = VMImages(kernel: bytes(of: module.range), initrd: nil)
    if profile.kind == .multiboot {
      let prefix = Array("module vm=".utf8) + profile.name
      for candidate in boot.modules {
        let line = candidate.commandLine
        guard line.starts(with: prefix) else { continue }
        let rest = line[prefix.count...]
        guard rest.isEmpty || rest.first == UInt8(ascii: " ") else { continue }
        images.modules.append((bytes(of: candidate.range), Array(rest.dropFirst())))
      }
    }
    if profile.kind == .linux,
      let initrd = boot.modules.first(where: {
        $0.commandLine == Array("initrd vm=".utf8) + profile.name
      })
    {
      images.initrd = bytes(of: initrd.range)
    }
    if !profile.diskImage.isEmpty,
      let disk = boot.modules.first(where: {
        $0.commandLine == Array("disk vm=".utf8) + profile.diskImage
      })
    {
      images.disk = bytes(of: disk.range)
    }
    return images
  }

  static func bytes(of range: PhysicalRange) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(
      start: UnsafeRawPointer(bitPattern: UInt(range.start)), count: Int(range.size))
  }

  /// The profile and the first boot module it names: for test scripts that create a VM
  /// from a module held back at boot.
  static func heldModule(named name: [UInt8], in boot: BootInformation)
    -> (VMProfile, VMImages)?
  {
    for module in boot.modules where isProfile(module.commandLine) {
      guard case .success(let profile) = VMProfile.parse(module.commandLine),
        profile.name == name
      else { continue }
      return (profile, images(of: module, profile: profile, boot: boot))
    }
    return nil
  }

  /// Builds VM `id` from `profile` and `images` (no placement: the manager did that), with
  /// its disk when the profile names one: copied first, so that an image the node cannot
  /// hold is refused before the VM's RAM is taken, and released if the VM is refused.
  static func build<Backend: VirtualizationBackend>(
    _ profile: VMProfile, images: VMImages, id: Int, backend: Backend,
    console: HypervisorConsole, quiet: Bool, incoming: Bool = false
  ) -> Result<VirtualMachine, ManagementRefusal> {
    // A VM with interrupt controllers has the PCI platform, whose windows start where RAM
    // would pass 3 GiB: such RAM is refused rather than remapped above 4 GiB.
    if profile.kind != .flat || hasPCIBus(profile), profile.memorySize > PCIPlatform.ramCeiling {
      return .failure(.invalid("a VM with a PCI bus has at most 3 GiB of RAM (the PCI hole)"))
    }
    var disk: DiskImage? = nil
    // A copy made here is freed here when the VM is refused; a transferred disk is its
    // caller's (ManagerControl frees it on a refusal, TransferredDisks at release).
    var copied = false
    if !profile.diskImage.isEmpty {
      if let transferred = images.transferredDisk {
        // Held for the VM's life (and `image save`) even where no PCI bus shows it.
        disk = transferred
      } else {
        guard VMDisk.canAttach(profile) else {
          return .failure(
            .invalid(
              "a disk is a PCI function: the VM needs kind=linux, kind=multiboot or apic=on"))
        }
        guard let source = images.disk else {
          return .failure(.invalid("the profile's disk= image is not on the node"))
        }
        switch VMDisk.make(
          from: source, name: profile.diskImage, reservedBytes: profile.memorySize)
        {
        case .success(let made):
          disk = made
          copied = true
        case .failure(let refusal): return .failure(.invalid(refusal.message))
        }
      }
    }
    let built =
      incoming
      ? buildIncoming(profile, id: id, backend: backend, console: console, quiet: quiet)
      : buildMachine(
        profile, images: images, id: id, backend: backend, console: console, quiet: quiet)
    switch built {
    case .success(let vm):
      guard let disk else { break }
      guard VMDisk.canAttach(profile) else {
        vm.disk = disk
        break
      }
      // Admitted but not yet placed: no vCPU runs, as attaching wants.
      if let message = VMDisk.attach(disk, to: vm) {
        backend.release(vm)
        if let space = vm.addressSpace {
          unsafeDowncast(space, to: GuestAddressSpace<Backend.NestedFormat>.self).release()
          vm.addressSpace = nil
        }
        vm.disk = nil
        if copied { VMDisk.release(disk) }
        return .failure(.invalid(message))
      }
    case .failure: if copied, let disk { VMDisk.release(disk) }
    }
    return built
  }

  /// An incoming VM (restore, migration target): the machine each kind's loader builds (its
  /// platform devices, then the PCI functions `create` attaches), but no image loaded: the
  /// memory stays zeroed until `memoryWrite` fills it, and the vCPUs' state comes with
  /// `restoreState`. Application processors wait for start-up as at boot; the restored
  /// records overwrite that.
  private static func buildIncoming<Backend: VirtualizationBackend>(
    _ profile: VMProfile, id: Int, backend: Backend, console: HypervisorConsole, quiet: Bool
  ) -> Result<VirtualMachine, ManagementRefusal> {
    create(profile, id: id, backend: backend, console: console, quiet: quiet) { vm in
      switch profile.kind {
      case .linux:
        GuestPlatformDevices.installLinux(
          in: vm, clock: vm.deviceClock, wallClock: vm.deviceWallClock)
        vm.holdApplicationProcessors()
      case .multiboot:
        MultibootLoader.installPlatform(in: vm)
        vm.holdApplicationProcessors()
      case .flat:
        if hasPCIBus(profile) { InterruptControllers.install(in: vm) }
      }
      return nil
    }
  }

  private static func buildMachine<Backend: VirtualizationBackend>(
    _ profile: VMProfile, images: VMImages, id: Int, backend: Backend,
    console: HypervisorConsole, quiet: Bool
  ) -> Result<VirtualMachine, ManagementRefusal> {
    if profile.kind == .linux {
      return LinuxLoader.build(
        profile, images: images, id: id, backend: backend, console: console, quiet: quiet)
    }
    if profile.kind == .multiboot {
      return MultibootLoader.build(
        profile, images: images, id: id, backend: backend, console: console, quiet: quiet)
    }
    return create(profile, id: id, backend: backend, console: console, quiet: quiet) { vm in
      if hasPCIBus(profile) { InterruptControllers.install(in: vm) }
      return vm.memory.write(images.kernel, to: profile.loadAddress)
        ? nil : "the image does not fit in the VM's memory"
    }
  }

  /// A flat VM has interrupt controllers and the PCI platform with `apic=on`, and when it
  /// owns host PCI functions (they are functions on its PCI bus, docs/passthrough.md).
  static func hasPCIBus(_ profile: VMProfile) -> Bool {
    profile.localAPIC || !profile.passthrough.isEmpty
  }

  /// Gives a VM its memory and standard devices, lets `populate` load its contents (and
  /// set its initial vCPU state), then hands it to the backend. `populate` returns an error
  /// message to refuse the VM. A refused VM leaves nothing behind.
  static func create<Backend: VirtualizationBackend>(
    _ profile: VMProfile, id: Int, backend: Backend, console: HypervisorConsole, quiet: Bool,
    populate: (VirtualMachine) -> StaticString?
  ) -> Result<VirtualMachine, ManagementRefusal> {
    let space: GuestAddressSpace<Backend.NestedFormat>
    switch GuestAddressSpace<Backend.NestedFormat>.build(size: profile.memorySize) {
    case .success(let built): space = built
    case .failure(let error): return .failure(.invalid(error.message))
    }
    let vm = VirtualMachine(id: id, profile: profile)
    // The guest sees the host vendor's MSRs (docs/guest-abi.md).
    vm.msrPolicy = MSRPolicy(hostLeaf0: RealProcessor.cpuid(leaf: 0, subleaf: 0))
    // RDTSCP/RDPID, PKU and PKS where the host has them: TSC_AUX, PKRU and PKRS are switched
    // per vCPU (GuestAuxiliaryRegisters).
    if CPUIDPolicy.offersTimeStampCounterAuxiliary(host: GuestVisibleCPUID.cpuid) {
      vm.msrPolicy.offerTimeStampCounterAuxiliary()
      vm.switchesTimeStampCounterAuxiliary = true
    }
    vm.switchesProtectionKeyRights = CPUIDPolicy.offersProtectionKeys(host: GuestVisibleCPUID.cpuid)
    if CPUIDPolicy.offersSupervisorProtectionKeys(host: GuestVisibleCPUID.cpuid) {
      vm.msrPolicy.offerSupervisorProtectionKeyRights()
      vm.switchesSupervisorProtectionKeyRights = true
    }
    vm.memory = space.memory
    // Device models' writes reach the VM's dirty log (the VM owns both; never changed).
    vm.memory.writeLog = Unmanaged.passUnretained(vm.dirtyLog).toOpaque()
    vm.addressSpace = space
    vm.installStandardDevices(console: console)
    // A traced VM's devices read a clock the trace records (before populate builds them).
    if profile.traceExits > 0 { vm.recordingClock = RecordingClock(inner: TSCClock.shared) }
    if let message = populate(vm) ?? GuestIODevices.attach(in: vm)
      ?? GuestRemappingDevices.attach(in: vm)
    {
      space.release()
      return .failure(.invalid(message))
    }
    // Its PCI functions' DMA confined to its RAM before anything can start them.
    if !profile.passthrough.isEmpty, let message = PassthroughDevices.attachDomain(vm) {
      space.release()
      return .failure(.invalid(message))
    }
    // Then the functions themselves on its bus, their BARs in its nested paging.
    if !profile.passthrough.isEmpty,
      let message = PassthroughDevices.attachFunctions(vm, space: space)
    {
      IOMMU.vmReleased(name: vm.name)  // before the RAM its domain maps is freed
      space.release()
      return .failure(.invalid(message))
    }
    guard backend.admit(vm, nestedRoot: space.root) else {
      IOMMU.vmReleased(name: vm.name)  // before the RAM its domain maps is freed
      space.release()
      return .failure(.invalid("could not set up the VM"))
    }
    if profile.traceExits > 0 {
      // After admit: the backend has set the VM's control-register rules the trace records.
      var header = ExitTraceHeader(
        backend: Backend.traceBackend, msrVendor: vm.msrPolicy.vendor,
        controlRegisterRules: vm.controlRegisterRules, profile: profile)
      header.hasInterruptSources = vm.hasInterruptSources
      if let clock = vm.recordingClock {
        header.clockRate = clock.ticksPerSecond
        header.clockAtBuild = clock.buildTime
      }
      let free = KernelHeap.lock.withLock { KernelHeap.allocator.statistics.largestFreeBlock }
      vm.exitTrace = ExitTraceRecorder(
        limit: profile.traceExits, header: header,
        byteLimit: ExitTraceRecorder.byteLimit(
          largestFreeHeapBlock: free, vcpuCount: profile.vcpuCount))
      if let recorder = vm.exitTrace { vm.recordingClock?.attach(recorder) }
    }
    if !quiet && Log.begin(.info) {
      VMReport.vmLabel(vm)
      Console.write(": ")
      Console.write(size: profile.memorySize)
      Console.write(" at guest-physical 0, ")
      Console.write(decimal: UInt64(profile.vcpuCount))
      Console.write(profile.vcpuCount == 1 ? " vCPU" : " vCPUs")
      if profile.kind == .flat {
        Console.write(", image at ")
        Console.write(hex: profile.loadAddress)
        Console.write(", entry ")
        Console.write(hex: UInt64(profile.entrySegment), digits: 4)
        Console.write(":")
        Console.write(hex: UInt64(profile.entryOffset), digits: 4)
      } else if profile.kind == .multiboot {
        Console.write(vm.initialState.rax == 0x2BAD_B002 ? ", multiboot v1" : ", multiboot2")
        Console.write(" kernel entered in 32-bit protected mode at ")
        Console.write(hex: vm.initialState.rip)
      } else {
        Console.write(", Linux entered in 64-bit mode at ")
        Console.write(hex: vm.initialState.rip)
      }
      Log.end()
    }
    return .success(vm)
  }

  /// Logs why a module is refused; `key`, when given, is the profile key the message is
  /// about ("... refused: a key is given more than once: mem").
  static func refuse(
    _ module: Int, _ commandLine: [UInt8], _ message: StaticString, key: [UInt8]? = nil
  ) {
    Log.begin(.error)
    Console.write("guest module ")
    Console.write(decimal: UInt64(module))
    Console.write(" (")
    Console.write(bytes: commandLine)
    Console.write(") refused: ")
    Console.write(message)
    if let key {
      Console.write(": ")
      Console.write(bytes: key)
    }
    Log.end()
  }
}
