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
    from boot: BootInformation, backend: Backend, console: HypervisorConsole
  ) -> [VirtualMachine] {
    var vms: [VirtualMachine] = []
    var moduleNumber = 0
    for module in boot.modules where isProfile(module.commandLine) {
      moduleNumber += 1
      let profile: VMProfile
      switch VMProfile.parse(module.commandLine) {
      case .success(let parsed): profile = parsed
      case .failure(let error):
        refuse(moduleNumber, module.commandLine, error.message)
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
      guard
        let vm = create(
          profile, image: module.range, id: vms.count, backend: backend, console: console)
      else {
        continue
      }
      vms.append(vm)
    }
    return vms
  }

  static func create<Backend: VirtualizationBackend>(
    _ profile: VMProfile, image: PhysicalRange, id: Int, backend: Backend,
    console: HypervisorConsole
  ) -> VirtualMachine? {
    let built: (memory: GuestMemoryMap, root: UInt64, frames: [(UInt64, Int)])
    switch GuestMemoryBuilder.build(size: profile.memorySize, format: Backend.NestedFormat.self) {
    case .success(let result): built = result
    case .failure(let error):
      refuse(id + 1, Array("vm name=".utf8) + profile.name, error.message)
      return nil
    }
    let vm = VirtualMachine(id: id, profile: profile)
    vm.memory = built.memory
    vm.installStandardDevices(console: console)
    let source = UnsafeRawBufferPointer(
      start: UnsafeRawPointer(bitPattern: UInt(image.start)), count: Int(image.size))
    guard vm.memory.write(source, to: profile.loadAddress),
      backend.admit(vm, nestedRoot: built.root)
    else {
      GuestMemoryBuilder.release(built.frames)
      refuse(id + 1, Array("vm name=".utf8) + profile.name, "could not set up the VM")
      return nil
    }
    GuestFrames.record(vm: vm, frames: built.frames)
    if Log.begin(.info) {
      VMReport.vmLabel(vm)
      Console.write(": ")
      Console.write(size: profile.memorySize)
      Console.write(" at guest-physical 0, ")
      Console.write(decimal: UInt64(profile.vcpuCount))
      Console.write(profile.vcpuCount == 1 ? " vCPU" : " vCPUs")
      Console.write(", image of ")
      Console.write(decimal: image.size)
      Console.write(" bytes at ")
      Console.write(hex: profile.loadAddress)
      Console.write(", entry ")
      Console.write(hex: UInt64(profile.entrySegment), digits: 4)
      Console.write(":")
      Console.write(hex: UInt64(profile.entryOffset), digits: 4)
      Log.end()
    }
    return vm
  }

  static func refuse(_ module: Int, _ commandLine: [UInt8], _ message: StaticString) {
    Log.begin(.error)
    Console.write("guest module ")
    Console.write(decimal: UInt64(module))
    Console.write(" (")
    Console.write(bytes: commandLine)
    Console.write(") refused: ")
    Console.write(message)
    Log.end()
  }
}

/// The host frames behind each VM's RAM, returned to the allocator when the VM ends.
enum GuestFrames {
  static var owned: [(vm: Int, frames: [(UInt64, Int)])] = []

  static func record(vm: VirtualMachine, frames: [(UInt64, Int)]) { owned.append((vm.id, frames)) }

  static func release(vm: VirtualMachine) {
    guard let index = owned.firstIndex(where: { $0.vm == vm.id }) else { return }
    GuestMemoryBuilder.release(owned[index].frames)
    owned.remove(at: index)
  }
}
