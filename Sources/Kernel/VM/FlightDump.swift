import HypervisorCore
import Synchronization

/// Prints every vCPU's flight recorder (FlightRecorder) when a VM stops abnormally: a
/// header line per vCPU with its state and its local APIC's IRR, ISR, TPR and the vectors
/// posted but not yet drained, then its last events, oldest first. Every line starts
/// `[flight] vm NAME vcpu N: `; at most `FlightRecorder.capacity` + 1 lines per vCPU.
/// The format is documented in docs/smp.md ("Flight recorder"). Other CPUs may still run
/// the VM's vCPUs while this prints: their state is a racy snapshot.
enum FlightDump {
  /// The stops that dump: nothing left to wake the VM, and an exit storm.
  static func wanted(for reason: StopReason) -> Bool {
    switch reason {
    case .haltedWithoutInterruptSource, .exitStorm: return true
    default: return false
    }
  }

  /// `end`: the host TSC of the stop; events are shown as cycles before it ("t-N").
  static func print(_ vm: VirtualMachine, end: UInt64) {
    for vcpu in vm.vcpus {
      header(vm, vcpu)
      vcpu.flight.forEachEvent { event in line(vm, vcpu, event, end: end) }
    }
  }

  private static func prefix(_ vm: VirtualMachine, _ vcpu: VirtualCPU) {
    Console.write("[flight] vm ")
    Console.write(bytes: vm.name)
    Console.write(" vcpu ")
    Console.write(decimal: UInt64(vcpu.index))
    Console.write(": ")
  }

  private static func header(_ vm: VirtualMachine, _ vcpu: VirtualCPU) {
    prefix(vm, vcpu)
    Console.write("state=")
    switch vcpu.state {
    case .runnable: Console.write("runnable")
    case .halted: Console.write("halted")
    case .waitingForStartup: Console.write("wait-sipi")
    case .stopped: Console.write("stopped")
    }
    Console.write(" cpu=")
    Console.write(signed: Int64(vcpu.hostCPU.load(ordering: .relaxed)))
    Console.write(" requests=")
    Console.write(hex: UInt64(vcpu.requests.load(ordering: .relaxed)))
    Console.write(" asleep=")
    Console.write(vcpu.isJudgedAsleep ? "yes" : "no")
    Console.write(" awake=")
    Console.write(signed: Int64(vcpu.awakeVCPUs?.value ?? -1))
    Console.write(" posted=")
    vectors { word in
      let bits = vcpu.postedInterrupts.peek(word: word >> 1)
      return UInt32(truncatingIfNeeded: word & 1 == 0 ? bits : bits >> 32)
    }
    if let apic = vcpu.localAPIC {
      // The APIC's saved state (StatefulDevice) holds IRR, ISR and TPR as the guest sees them.
      let saved = apic.save()
      Console.write(" irr=")
      vectors { saved.requests[$0 & 7] }
      Console.write(" isr=")
      vectors { saved.inService[$0 & 7] }
      Console.write(" tpr=")
      Console.write(hex: UInt64(saved.taskPriority))
      Console.write(" nmi=")
      Console.write(decimal: UInt64(apic.pendingNMIs))
      Console.write(" timer=")
      Console.write(apic.deadline == nil ? "off" : "armed")
    } else {
      Console.write(" apic=none")
    }
    Console.write(" events=")
    Console.write(decimal: vcpu.flight.recorded)
    Console.write(0x0A)
  }

  /// The vectors set in a 256-bit map given as eight 32-bit words: "-" for none, else
  /// "0x40,0x41".
  private static func vectors(_ word: (Int) -> UInt32) {
    var any = false
    for index in 0..<8 {
      var bits = word(index)
      while bits != 0 {
        let bit = bits.trailingZeroBitCount
        bits &= bits &- 1
        if any { Console.write(",") }
        any = true
        Console.write(hex: UInt64(index * 32 + bit))
      }
    }
    if !any { Console.write("-") }
  }

  private static func line(
    _ vm: VirtualMachine, _ vcpu: VirtualCPU, _ event: FlightEvent, end: UInt64
  ) {
    prefix(vm, vcpu)
    if event.tsc == 0 {
      Console.write("t?")
    } else if event.tsc <= end {
      Console.write("t-")
      Console.write(decimal: end &- event.tsc)
    } else {
      Console.write("t+")
      Console.write(decimal: event.tsc &- end)
    }
    Console.write(" ")
    Console.write(event.kindName)
    switch event.kind {
    case .exit:
      Console.write(" ")
      Console.write(
        ExitKind(rawValue: UInt8(truncatingIfNeeded: event.detail))?.name ?? "unknown")
      Console.write(" rip=")
      Console.write(hex: event.value)
    case .slice, .halted:
      Console.write(" cpu=")
      Console.write(decimal: event.detail)
    case .woken:
      if event.detail == 0x100 {
        Console.write(" nmi")
      } else if event.detail == 0x200 {
        Console.write(" extint")
      } else {
        Console.write(" vector=")
        Console.write(hex: event.detail)
      }
    case .offer, .offerTaken, .inject, .irr, .held:
      Console.write(" vector=")
      Console.write(hex: event.detail)
    case .post:
      Console.write(" requests=")
      Console.write(hex: event.detail)
      if event.value < 0x100 {
        Console.write(" vector=")
        Console.write(hex: event.value)
      }
    case .drain:
      Console.write(" requests=")
      Console.write(hex: event.detail)
    case .asleep, .awake:
      Console.write(" awake=")
      Console.write(signed: Int64(bitPattern: event.value))
    }
    Console.write(0x0A)
  }
}
