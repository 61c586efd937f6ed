/// Delivers the IPIs a vCPU's local APIC sent to the APICs of its VM's vCPUs (SDM 3A
/// §11.6): fixed interrupts set the targets' IRR, NMIs latch their pending NMI, and a halted
/// target becomes runnable. State stays with its owner: the sender's APIC only describes
/// the IPI; this VM-level code, which sees every vCPU, writes the targets' state. All vCPUs
/// of a VM run on one physical CPU (Scheduler), so the targets' state is written directly;
/// with vCPUs on several CPUs this becomes a per-vCPU request bit plus a kick.
public enum IPIRouting {
  /// Routes everything `sender`'s APIC sent since the last call.
  @inline(__always)
  public static func routeOutgoing(from sender: VirtualCPU, in vm: VirtualMachine) {
    guard let apic = sender.localAPIC, !apic.outgoing.isEmpty else { return }
    for ipi in apic.takeOutgoing() { route(ipi, from: sender, in: vm) }
  }

  public static func route(
    _ ipi: InterprocessorInterrupt, from sender: VirtualCPU, in vm: VirtualMachine
  ) {
    if case .ignored = ipi.delivery {
      sender.statistics.ignoredInterprocessorInterrupts &+= 1
      return
    }
    for target in vm.vcpus
    where target.state != .stopped && selects(ipi.destination, target, sender) {
      guard let apic = target.localAPIC else { continue }
      switch ipi.delivery {
      case .fixed(let vector, _): apic.request(vector)
      case .nmi: apic.nmiPending = true
      case .ignored: break
      }
      if target.state == .halted { target.state = .runnable }
      // Lowest priority goes to one of the destinations (§11.6.2.4): every vCPU has the
      // same priority here, so the first one takes it, as the I/O APIC does.
      if case .fixed(_, true) = ipi.delivery { return }
    }
  }

  static func selects(
    _ destination: InterprocessorInterrupt.Destination, _ target: VirtualCPU, _ sender: VirtualCPU
  ) -> Bool {
    switch destination {
    case .toSelf: return target === sender
    case .allIncludingSelf: return true
    case .allExcludingSelf: return target !== sender
    case .physical(let id): return id == 0xFF || target.localAPIC?.id == id
    case .logical(let address): return target.localAPIC?.acceptsLogical(address) ?? false
    }
  }
}
