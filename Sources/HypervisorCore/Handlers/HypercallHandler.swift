/// The hypercall ABI (docs/guest-abi.md), on VMMCALL and VMCALL alike. RAX selects the
/// call and returns the status; arguments are guest-physical addresses checked against
/// the VM's RAM before use.
public enum HypercallHandler {
  public enum Call: UInt64 {
    case identify = 0
    case consoleWrite = 1
    case exitStatistics = 2
    case stop = 3
  }

  public enum Status: Int64 {
    case success = 0
    case unknownCall = -1
    case badAddress = -2
    case badLength = -3
    case notPermitted = -4
  }

  public static let signature: UInt64 = 0x4E47_5250  // "PRGN"
  /// "identify" (RAX = 0): RBX the signature, RCX the ABI version. The world switch's fast
  /// path gives the same answer from a copy (exit_fast_path.h).
  public static let identifyAnswer = (rbx: signature, rcx: UInt64(CPUIDPolicy.abiVersion))
  public static let maximumConsoleWrite: UInt64 = 4096
  public static let statisticsRecordSize: UInt64 = 24

  public static func handle<Guest: GuestStateAccess>(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: inout Guest,
    console: any ConsoleSink
  ) -> ExitOutcome {
    // Hypercalls from guest user mode would let applications bypass their kernel.
    guard guest.privilegeLevel == 0 else {
      return finish(.notPermitted, exit, vcpu, vm, guest)
    }
    guard let call = Call(rawValue: vcpu.registers.rax) else {
      return finish(.unknownCall, exit, vcpu, vm, guest)
    }
    switch call {
    case .identify:
      vcpu.registers.rbx = identifyAnswer.rbx
      vcpu.registers.rcx = identifyAnswer.rcx
      return finish(.success, exit, vcpu, vm, guest)
    case .consoleWrite:
      let address = vcpu.registers.rbx
      let length = vcpu.registers.rcx
      guard length <= maximumConsoleWrite else { return finish(.badLength, exit, vcpu, vm, guest) }
      guard let bytes = vm.memory.pointer(to: address, length: length) else {
        return finish(.badAddress, exit, vcpu, vm, guest)
      }
      for index in 0..<Int(length) {
        console.write(bytes.load(fromByteOffset: index, as: UInt8.self), from: vm.name)
      }
      return finish(.success, exit, vcpu, vm, guest)
    case .exitStatistics:
      return writeStatistics(exit, vcpu: vcpu, vm: vm, guest: guest)
    case .stop:
      return .stop(.guestRequested(code: vcpu.registers.rbx))
    }
  }

  /// Records of (kind, count, cycles) for each exit kind the vCPU has taken.
  static func writeStatistics<Guest: GuestStateAccess>(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: Guest
  ) -> ExitOutcome {
    let address = vcpu.registers.rbx
    let capacity = vcpu.registers.rcx / statisticsRecordSize
    guard capacity > 0 else { return finish(.badLength, exit, vcpu, vm, guest) }
    guard let buffer = vm.memory.pointer(to: address, length: capacity * statisticsRecordSize)
    else {
      return finish(.badAddress, exit, vcpu, vm, guest)
    }
    // This call counts itself, so the guest sees its own hypercall in the figures.
    let statistics = guest.exitStatistics(of: vcpu)
    var written: UInt64 = 0
    for kind in ExitKind.allCases where statistics.count(kind) > 0 && written < capacity {
      let offset = Int(written * statisticsRecordSize)
      buffer.storeBytes(of: UInt64(kind.rawValue), toByteOffset: offset, as: UInt64.self)
      buffer.storeBytes(of: statistics.count(kind), toByteOffset: offset + 8, as: UInt64.self)
      buffer.storeBytes(of: statistics.cycles(kind), toByteOffset: offset + 16, as: UInt64.self)
      written += 1
    }
    vcpu.registers.rcx = written
    vm.memory.noteWrite(address, length: written * statisticsRecordSize)
    vcpu.registers.rdx = statistics.totalExits
    return finish(.success, exit, vcpu, vm, guest)
  }

  static func finish<Guest: GuestStateAccess>(
    _ status: Status, _ exit: VMExit, _ vcpu: VirtualCPU, _ vm: VirtualMachine, _ guest: Guest
  ) -> ExitOutcome {
    vcpu.registers.rax = UInt64(bitPattern: status.rawValue)
    return InstructionCompletion.complete(exit, vcpu: vcpu, vm: vm, guest: guest)
  }
}
