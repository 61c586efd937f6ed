import Foundation
import HypervisorCore

/// Runs a trace's exits through the real dispatcher and handlers on the host and checks each
/// against the record: the outcome, the registers after, the event left pending and every
/// question asked of the backend (ReplayGuest). Guest memory is a zeroed allocation of the
/// VM's size into which each record's bytes are written before its exit is replayed; the
/// VM's devices are the ones its kind's loader installs (GuestPlatformDevices), fresh, as at
/// the VM's start (where the trace begins), on the recorded clock (ReplayClock).
final class ExitTraceReplay {
  struct Divergence: CustomStringConvertible {
    var record: Int
    var exit: VMExit
    var what: String
    var description: String { "record \(record) (\(exit.reason)): \(what)" }
  }

  final class Console: ConsoleSink {
    var bytes: [UInt8] = []
    func write(_ byte: UInt8, from vmName: [UInt8]) { bytes.append(byte) }
  }

  let file: ExitTraceFile
  let vm: VirtualMachine
  let console = Console()
  let clock: ReplayClock
  private let ram: UnsafeMutableRawPointer

  init(_ file: ExitTraceFile) {
    self.file = file
    let header = file.header
    vm = VirtualMachine(id: 1, profile: header.profile)
    vm.msrPolicy = MSRPolicy(vendor: header.msrVendor)
    vm.controlRegisterRules = header.controlRegisterRules
    vm.hasInterruptSources = header.hasInterruptSources
    // calloc: the pages of a large VM are only touched where a record writes.
    ram = calloc(1, Int(header.memorySize))!
    vm.memory.add(
      GuestMemoryRegion(
        guestPhysical: 0, hostAddress: UInt64(UInt(bitPattern: ram)), size: header.memorySize))
    vm.installStandardDevices(console: console)
    // The platform devices the kernel's loader gave the VM (GuestPlatformDevices), on a
    // clock that answers each read with the one recorded (ReplayClock).
    clock = ReplayClock(buildTime: header.clockAtBuild, ticksPerSecond: header.clockRate)
    // A traced VM's RTC runs on its recording clock from the epoch (Kernel's
    // deviceWallClock): the same here.
    let wallClock = GuestClockWallClock(
      clock: clock, start: header.clockAtBuild, epochNanoseconds: 0)
    switch header.kind {
    case .linux: GuestPlatformDevices.installLinux(in: vm, clock: clock, wallClock: wallClock)
    case .multiboot:
      GuestPlatformDevices.installMultiboot(in: vm, clock: clock, wallClock: wallClock)
    case .flat:
      if header.hasInterruptSources {
        GuestPlatformDevices.installInterruptControllers(in: vm, clock: clock)
      }
    }
  }

  deinit { free(ram) }

  /// Every record in order; the divergences found (at most `limit`; empty when all match).
  func run(limit: Int = 10) -> [Divergence] {
    var found: [Divergence] = []
    for (index, record) in file.records.enumerated() {
      if let what = replay(record) {
        found.append(Divergence(record: index, exit: record.exit, what: what))
        if found.count >= limit { break }
      }
    }
    return found
  }

  /// One record; nil when the handler decided as recorded.
  func replay(_ record: ExitTraceRecord) -> String? {
    guard Int(record.vcpu) < vm.vcpus.count else { return "vCPU \(record.vcpu) does not exist" }
    let vcpu = vm.vcpus[Int(record.vcpu)]
    for chunk in record.memory {
      guard chunk.guestPhysical <= file.header.memorySize,
        UInt64(chunk.bytes.count) <= file.header.memorySize - chunk.guestPhysical
      else { return "memory at \(hex(chunk.guestPhysical)) lies outside the VM" }
      chunk.bytes.withUnsafeBytes { _ = vm.memory.write($0, to: chunk.guestPhysical) }
    }
    vcpu.registers = record.before
    if let interrupts = record.interruptsBefore {
      guard let apic = vcpu.localAPIC else { return "the record holds a local APIC the VM lacks" }
      apic.traceInterruptState = interrupts
    }
    vcpu.pendingEvent = nil
    var guest = ReplayGuest(record.guestCalls)
    clock.script = guest.script
    let outcome = ExitDispatcher.dispatch(
      record.exit, vcpu: vcpu, vm: vm, guest: &guest, console: console)
    clock.script = nil
    if let divergence = guest.script.divergence { return divergence }
    if outcome != record.outcome {
      return "outcome \(outcome), recorded \(record.outcome)"
    }
    if vcpu.registers != record.after {
      return "registers after: \(Self.difference(vcpu.registers, record.after))"
    }
    if vcpu.pendingEvent != record.pendingEvent {
      return "pending event \(String(describing: vcpu.pendingEvent)), recorded "
        + String(describing: record.pendingEvent)
    }
    if guest.script.unconsumed != 0 {
      return "the handler asked \(guest.script.unconsumed) fewer questions than recorded"
    }
    return nil
  }

  static func difference(_ actual: GuestRegisters, _ recorded: GuestRegisters) -> String {
    let names = [
      "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
      "r13", "r14", "r15",
    ]
    var parts: [String] = []
    for number in 0..<16 where actual[number] != recorded[number] {
      parts.append("\(names[number]) \(hex(actual[number])) != \(hex(recorded[number]))")
    }
    if actual.rip != recorded.rip { parts.append("rip \(hex(actual.rip)) != \(hex(recorded.rip))") }
    if actual.rflags != recorded.rflags {
      parts.append("rflags \(hex(actual.rflags)) != \(hex(recorded.rflags))")
    }
    return parts.joined(separator: ", ")
  }
}

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
