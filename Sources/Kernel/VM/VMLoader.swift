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

  static func createVMs<Backend: VirtualizationBackend>(
    from boot: BootInformation, backend: Backend, console: HypervisorConsole,
    placement: MachinePlacement
  ) -> [VirtualMachine] {
    var vms: [VirtualMachine] = []
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
      if let error = profile.validate(imageSize: module.range.size) {
        refuse(moduleNumber, module.commandLine, error.message)
        continue
      }
      if vms.contains(where: { $0.name == profile.name }) {
        refuse(moduleNumber, module.commandLine, "another VM already has this name")
        continue
      }
      // Where its vCPUs run, before any memory is spent on it: a VM the machine cannot
      // place is refused with the reason (VCPUPlacement).
      let id = vms.count
      let cpus: [Int]
      switch placement.place(profile, vm: id) {
      case .success(let chosen): cpus = chosen
      case .failure(let refusal):
        refuse(moduleNumber, module.commandLine, refusal.message)
        Log.begin(.error)
        Console.write("  ")
        Console.write(bytes: refusal.describe { $0 == id ? profile.name : vms[$0].name })
        Log.end()
        continue
      }
      let created: VirtualMachine?
      if profile.kind == .linux {
        created = LinuxLoader.create(
          profile, module: module, number: moduleNumber, boot: boot, id: vms.count,
          backend: backend,
          console: console)
      } else {
        created = create(
          profile, module: module, number: moduleNumber, id: vms.count, backend: backend,
          console: console
        ) { vm in
          if profile.localAPIC { InterruptControllers.install(in: vm) }
          let source = UnsafeRawBufferPointer(
            start: UnsafeRawPointer(bitPattern: UInt(module.range.start)),
            count: Int(module.range.size))
          return vm.memory.write(source, to: profile.loadAddress)
            ? nil : "the image does not fit in the VM's memory"
        }
      }
      guard let vm = created else {
        placement.release(vm: id)
        continue
      }
      vm.hostCPUs = cpus
      vms.append(vm)
    }
    return vms
  }

  /// Gives a VM its memory and standard devices, lets `populate` load its contents (and
  /// set its initial vCPU state), then hands it to the backend. `populate` returns an error
  /// message to refuse the VM.
  static func create<Backend: VirtualizationBackend>(
    _ profile: VMProfile, module: BootModule, number: Int, id: Int, backend: Backend,
    console: HypervisorConsole, populate: (VirtualMachine) -> StaticString?
  ) -> VirtualMachine? {
    let space: GuestAddressSpace<Backend.NestedFormat>
    switch GuestAddressSpace<Backend.NestedFormat>.build(size: profile.memorySize) {
    case .success(let built): space = built
    case .failure(let error):
      refuse(number, module.commandLine, error.message)
      return nil
    }
    let vm = VirtualMachine(id: id, profile: profile)
    // The guest sees the host vendor's MSRs (docs/guest-abi.md).
    vm.msrPolicy = MSRPolicy(hostLeaf0: RealProcessor.cpuid(leaf: 0, subleaf: 0))
    vm.memory = space.memory
    vm.addressSpace = space
    vm.installStandardDevices(console: console)
    if let message = populate(vm) {
      space.release()
      refuse(number, module.commandLine, message)
      return nil
    }
    guard backend.admit(vm, nestedRoot: space.root) else {
      space.release()
      refuse(number, module.commandLine, "could not set up the VM")
      return nil
    }
    if Log.begin(.info) {
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
      } else {
        Console.write(", Linux entered in 64-bit mode at ")
        Console.write(hex: vm.initialState.rip)
      }
      Log.end()
    }
    return vm
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
