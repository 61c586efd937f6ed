// fuzz-modules: HypervisorCore
// The instruction decoders of the exit path: InstructionLength (the next RIP on AMD-V without
// NRIP-save) and MemoryAccessDecoder (the MMIO instruction at RIP). Both read bytes a guest
// controls, so neither may trap on any byte sequence.
//
// Input: byte 0 picks the guest's width (low 2 bits); the rest are the bytes at RIP, of which
// the first 15 are used, as the kernel fetches at most 15 (SDM Vol 2 §2.3.11).
import HypervisorCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard size >= 1 else { return 0 }
  let widths: [GuestMode.Width] = [.real, .protected16, .protected32, .long64]
  let width = widths[Int(data[0] & 3)]
  let bytes = InstructionBytes(UnsafeRawBufferPointer(start: data + 1, count: size - 1))

  let length = InstructionLength.decode(bytes, width: width)
  if let length {
    precondition(length >= 1 && Int(length) <= bytes.count, "length outside the fetched bytes")
  }

  guard case .success(let access) = MemoryAccessDecoder.decode(bytes, width: width) else {
    return 0
  }
  precondition(access.length >= 1 && Int(access.length) <= bytes.count, "MMIO length out of range")
  // The two decoders measure the same instruction; when both know it they must agree, or
  // RIP would advance differently depending on which exit found it.
  if let length {
    precondition(length == access.length, "InstructionLength and MemoryAccessDecoder disagree")
  }
  let sizes: Set<UInt8> = [1, 2, 4, 8]
  switch access.instruction {
  case .load(let size, let destination, let highByte, _, let destinationSize):
    precondition(sizes.contains(size) && sizes.contains(destinationSize), "load size")
    precondition(size <= destinationSize, "load wider than its destination")
    precondition((0..<16).contains(destination), "destination register number")
    precondition(!highByte || (destination < 4 && size == 1), "AH-BH only for byte loads")
  case .store(let size, let source):
    precondition(sizes.contains(size), "store size")
    if case .machineStatusWord = source { precondition(size == 2, "SMSW m16 stores a word") }
    if case .register(let number, let highByte) = source {
      precondition((0..<16).contains(number), "source register number")
      precondition(!highByte || (number < 4 && size == 1), "AH-BH only for byte stores")
    }
  case .storeString(let size, _, let addressSize):
    precondition(sizes.contains(size) && [2, 4, 8].contains(addressSize), "STOS sizes")
  case .arithmetic(_, let size, let source, let registerDestination):
    precondition(sizes.contains(size), "ALU operand size")
    if case .register(let number, let highByte) = source {
      precondition((0..<16).contains(number), "ALU register number")
      precondition(!highByte || (number < 4 && size == 1), "AH-BH only for byte operands")
    }
    // op Gv, Ev names its register in `source`: it must be a register, not an immediate.
    if registerDestination, case .immediate = source {
      preconditionFailure("a register destination without a register")
    }
  case .string(let operation, let size, let repeatPrefix, let addressSize, let segment):
    precondition(sizes.contains(size) && [2, 4, 8].contains(addressSize), "string sizes")
    // 64-bit mode has no 16-bit addressing and no 8-byte element outside it (REX.W).
    precondition(width == .long64 || (size < 8 && addressSize < 8), "64-bit sizes outside it")
    precondition(width != .long64 || addressSize >= 4, "16-bit addressing in 64-bit mode")
    // The operand the decoder reports is where the first access goes.
    guard let operand = access.operand else { preconditionFailure("string without operand") }
    precondition(operand.addressSize == addressSize, "operand address size")
    if operation == .scas {
      precondition(operand.segment == .es && operand.base == 7, "SCAS reads ES:rDI")
    } else {
      precondition(operand.segment == segment && operand.base == 6, "the source is seg:rSI")
    }
    // The opcode's own bytes: F3/F2 decide the repeat, nothing else does.
    let hasRepeat = (0..<Int(access.length)).contains { bytes[$0] == 0xF3 || bytes[$0] == 0xF2 }
    precondition((repeatPrefix != .none) == hasRepeat, "repeat prefix lost or invented")
  case .exchange(let size, let number, let highByte),
    .compareExchange(let size, let number, let highByte),
    .exchangeAdd(let size, let number, let highByte):
    precondition(sizes.contains(size), "exchange operand size")
    precondition((0..<16).contains(number), "exchange register number")
    precondition(!highByte || (number < 4 && size == 1), "AH-BH only for byte operands")
  case .bitTest(_, let size, let offset):
    // No byte form of BT*; the register offset is a general-purpose register.
    precondition([2, 4, 8].contains(size), "BT operand size")
    if case .register(let number) = offset {
      precondition((0..<16).contains(number), "BT register")
    }
  case .bitScan(_, let size, let number), .signedMultiply(let size, let number, _):
    precondition([2, 4, 8].contains(size), "BSF/BSR/IMUL operand size")
    precondition((0..<16).contains(number), "destination register number")
  case .doubleShift(_, let size, let number, _):
    precondition([2, 4, 8].contains(size), "SHLD/SHRD operand size")
    precondition((0..<16).contains(number), "SHLD/SHRD register number")
  case .vectorMove(let move):
    precondition([4, 8, 16].contains(move.size), "vector move size")
    precondition(
      move.file == .xmm ? (0..<16).contains(move.register) : (0..<8).contains(move.register),
      "vector register number")
    precondition(width == .long64 || move.register < 8, "XMM8-15 outside 64-bit mode")
    precondition(!move.requiresAlignment || move.size == 16, "only 16-byte moves are aligned")
  }
  return 0
}
