/// Delivers the IPIs a vCPU's local APIC sent to the vCPUs of its VM (SDM 3A §11.6): each
/// target receives a request (VirtualCPU.postInterrupt, post(.nmi), post(.initSignal),
/// postStartup), which its own CPU drains before its next entry (VCPURequests); the post
/// kicks that CPU, which also wakes a halted target. Routing never writes another vCPU's
/// state, APIC or pending event: it reads only the targets' immutable APIC IDs and their
/// published logical destinations, so it runs on the sender's CPU whichever CPUs the
/// targets run on.
public enum IPIRouting {
  /// Routes everything `sender`'s APIC sent since the last call.
  @inline(__always)
  public static func routeOutgoing(from sender: VirtualCPU, in vm: VirtualMachine) {
    guard let apic = sender.localAPIC, !apic.outgoing.isEmpty else { return }
    for ipi in apic.takeOutgoing() { route(ipi, from: sender, in: vm) }
  }

  /// IPIs with a delivery mode Peregrine does not deliver (SMI, reserved, INIT
  /// de-assert), and IPIs no vCPU accepted, are counted in the sender's statistics.
  public static func route(
    _ ipi: InterprocessorInterrupt, from sender: VirtualCPU, in vm: VirtualMachine
  ) {
    if case .ignored = ipi.delivery {
      sender.statistics.ignoredInterprocessorInterrupts &+= 1
      return
    }
    var delivered = false
    for target in vm.vcpus where target.localAPIC != nil && selects(ipi.destination, target, sender)
    {
      delivered = true
      switch ipi.delivery {
      case .fixed(let vector, let lowestPriority):
        target.postInterrupt(vector: vector)
        // Lowest priority goes to one of the destinations (§11.6.2.4): every vCPU has the
        // same priority here, so the first one takes it, as the I/O APIC does.
        if lowestPriority { return }
      case .nmi: target.post(.nmi)
      case .initSignal: target.post(.initSignal)
      case .startup(let vector): target.postStartup(vector: vector)
      case .ignored: break
      }
    }
    if !delivered { sender.statistics.ignoredInterprocessorInterrupts &+= 1 }
  }

  /// Whether `destination` selects `target` (§11.6.2; x2APIC §11.12.9, §11.12.10).
  static func selects(
    _ destination: InterprocessorInterrupt.Destination, _ target: VirtualCPU, _ sender: VirtualCPU
  ) -> Bool {
    switch destination {
    case .toSelf: return target === sender
    case .allIncludingSelf: return true
    case .allExcludingSelf: return target !== sender
    case .physical(let id): return id == 0xFF || target.localAPIC?.id == id
    case .logical(let address): return target.localAPIC?.acceptsLogical(address) ?? false
    case .x2APICPhysical(let id):
      return id == 0xFFFF_FFFF || target.localAPIC.map { UInt32($0.id) == id } ?? false
    case .x2APICLogical(let address):
      return target.localAPIC?.acceptsX2APICLogical(address) ?? false
    }
  }
}
