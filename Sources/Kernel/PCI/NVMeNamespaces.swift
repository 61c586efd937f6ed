import CArch
import PCI

/// Storage for each VF: once its secondary controllers are online, the node gives each one a
/// namespace of its own through the PF's admin queue (NVM Express 1.4 §5.19 Namespace
/// Attachment), by the rule of `NVMeNamespaceAttachment.plan`: the namespaces no controller
/// has attached, by ascending NSID, one each to the secondaries that see none, in VF order.
/// QEMU 7.2 realizes a VF's controller with no namespace but the subsystem's shared,
/// not-detached ones (`nvme_subsys_register_ctrl`); a private namespace started `detached`
/// is attached to nothing until this command names a controller, and once attached no other
/// controller may have it (status 119h, Namespace Is Private). So two VMs owning the two VFs
/// cannot reach each other's data through the device, and the node's own controller (the
/// PF) sees neither. Each result is on the console.
///
/// QEMU 7.2's VF controllers accept Namespace Attachment too, naming any controller of the
/// subsystem, so a guest could move namespaces through its own VF's admin queue (measured:
/// docs/passthrough.md, "Missing" 5); the admin guard (`NVMeAdminShadow`) now refuses that
/// while the VM runs. As a second line, when a VF is released (`audit`, CPU 0, after the
/// FLR) the node detaches from the VF's controller every namespace but its own, gives the
/// VF its own back when no controller has it, and gives every other VF whose namespace is
/// free again its own; then it erases the VF's namespace for the next owner (`erase`).
enum NVMeNamespaces {
  /// The PF's admin queue, kept after boot for `audit` (used on CPU 0 only: at boot, then
  /// from the release path), and what was attached to which VF's controller.
  nonisolated(unsafe) private static var queue: NVMeAdminQueue?
  nonisolated(unsafe) private static var owned:
    [(address: PCIAddress, controller: UInt16, namespace: UInt32)] = []
  /// The PF's own controller ID (Primary Controller Capabilities CNTLID), which a
  /// namespace is attached to while the node erases it (`wipe`).
  nonisolated(unsafe) private static var primary: UInt16 = 0
  /// Namespaces an erase failed on: kept detached, given to no VF again.
  nonisolated(unsafe) private static var unerased: [UInt32] = []

  static func attach(
    _ queue: inout NVMeAdminQueue, pf: PCIAddress, primary: UInt16,
    secondaries: [(vf: SRIOVDevices.VirtualFunction, controller: UInt16)]
  ) {
    Self.primary = primary
    guard let namespaces = state(&queue, pf: pf) else { return }
    let steps = NVMeNamespaceAttachment.plan(
      namespaces: namespaces, secondaries: secondaries.map { $0.controller })
    for secondary in secondaries {
      let step = steps.first(where: { $0.controller == secondary.controller })
      var completion: NVMeCompletion? = nil
      if let step { completion = queue.attach(namespace: step.namespace, to: step.controller) }
      let attached = completion?.succeeded ?? false
      if attached, let step {
        owned.append((secondary.vf.address, step.controller, step.namespace))
      }
      guard Log.begin(step != nil && !attached ? .warning : .info) else { continue }
      Console.write("pci sriov ")
      SRIOVDevices.write(secondary.vf.address)
      Console.write(": NVMe ")
      if let step {
        Console.write("namespace ")
        Console.write(decimal: UInt64(step.namespace))
        if attached {
          Console.write(" attached to secondary controller ")
          Console.write(decimal: UInt64(step.controller))
          Console.write(" (unattached before: this VF's own)")
        } else if let completion {
          Console.write(" not attached to secondary controller ")
          Console.write(decimal: UInt64(step.controller))
          Console.write(": Namespace Attachment status ")
          Console.write(hex: UInt64(completion.status & 0x7FF))
        } else {
          Console.write(" not attached: Namespace Attachment got no completion")
        }
      } else {
        Console.write("secondary controller ")
        Console.write(decimal: UInt64(secondary.controller))
        let seen = namespaces.filter { $0.attached.contains(secondary.controller) }
        if seen.isEmpty {
          Console.write(" has no namespace (none was left unattached)")
        } else {
          Console.write(" already sees namespace")
          for namespace in seen {
            Console.write(" ")
            Console.write(decimal: UInt64(namespace.id))
          }
          Console.write(" (shared or attached before)")
        }
      }
      Log.end()
    }
    Self.queue = queue
  }

  /// The subsystem's namespaces and their controllers (Identify CNS 10h, 12h per NSID); nil,
  /// said on the console, when an Identify failed.
  private static func state(_ queue: inout NVMeAdminQueue, pf: PCIAddress)
    -> [NVMeNamespaceAttachment.Namespace]?
  {
    guard
      let listBytes = queue.identify(
        cns: NVMeNamespaceAttachment.allocatedNamespaceList, count: 4096)
    else {
      fail(pf, "Identify of the allocated namespaces failed")
      return nil
    }
    var namespaces: [NVMeNamespaceAttachment.Namespace] = []
    for id in NVMeNamespaceAttachment.namespaces(listBytes) {
      guard
        let bytes = queue.identify(
          cns: NVMeNamespaceAttachment.attachedControllerList, namespace: id, count: 4096)
      else {
        fail(pf, "Identify of a namespace's controllers failed")
        return nil
      }
      namespaces.append(
        NVMeNamespaceAttachment.Namespace(
          id: id, attached: NVMeNamespaceAttachment.controllers(bytes)))
    }
    return namespaces
  }

  /// After the VF at `address` was reset at its owner's end (CPU 0): its controller keeps
  /// its own namespace only, as at boot, and any VF whose namespace is free again gets it.
  static func audit(_ address: PCIAddress) {
    guard let entry = owned.first(where: { $0.address == address }), var adminQueue = queue
    else { return }
    defer { queue = adminQueue }
    guard let namespaces = state(&adminQueue, pf: address) else { return }
    let found = NVMeNamespaceAttachment.audit(
      controller: entry.controller, own: entry.namespace, namespaces: namespaces)
    for foreign in found.foreign {
      let done = adminQueue.detach(namespace: foreign, from: entry.controller)
      say(
        address, .warning, "namespace ", foreign,
        done?.succeeded ?? false
          ? " had been attached to this VF's controller by its owner: detached"
          : " had been attached to this VF's controller by its owner: NOT detached")
    }
    if !found.ownElsewhere.isEmpty {
      say(
        address, .warning, "its namespace ", entry.namespace,
        " had been taken by another controller: given back when that VF is released")
    } else if found.ownMissing || !found.foreign.isEmpty {
      if found.ownMissing { restore(&adminQueue, entry) }
    } else {
      say(
        address, .info, "namespace ", entry.namespace,
        " still this VF's own and its only one after its owner")
    }
    // A namespace this VF's owner had taken is free now: erased, then back to its VF.
    if !found.foreign.isEmpty, let after = state(&adminQueue, pf: address) {
      for other in owned where other.address != address && !unerased.contains(other.namespace) {
        let attached = after.first(where: { $0.id == other.namespace })?.attached ?? [0]
        if attached.isEmpty, erase(&adminQueue, other) { restore(&adminQueue, other) }
      }
    }
    // Its own, for its next owner.
    guard let now = state(&adminQueue, pf: address),
      now.first(where: { $0.id == entry.namespace })?.attached == [entry.controller]
    else {
      say(
        address, .warning, "namespace ", entry.namespace,
        " not erased now: this VF's controller is not its only one")
      return
    }
    guard adminQueue.detach(namespace: entry.namespace, from: entry.controller)?.succeeded ?? false
    else {
      say(address, .warning, "namespace ", entry.namespace, " not erased: detach failed")
      return
    }
    guard erase(&adminQueue, entry) else { return }
    if !(adminQueue.attach(namespace: entry.namespace, to: entry.controller)?.succeeded ?? false) {
      say(
        address, .warning, "namespace ", entry.namespace,
        " erased but NOT attached to this VF's controller again")
    }
  }

  /// Erases a namespace no controller has (docs/passthrough.md, "Wipe between owners";
  /// encodings in `NVMeNamespaceErase`): a Format NVM names a namespace attached to the
  /// controller that runs it, so it is attached to the PF's controller, formatted with its
  /// current LBA format and SES 1h (user data erase) and detached again. True when erased;
  /// otherwise it stays detached and is given to no VF again (`unerased`). CPU 0, from the
  /// release path, polled with bounds (a second a command, 20 s the Format).
  private static func erase(
    _ queue: inout NVMeAdminQueue,
    _ entry: (address: PCIAddress, controller: UInt16, namespace: UInt32)
  ) -> Bool {
    let namespace = entry.namespace
    let start = arch_rdtsc()
    var erased: NVMeCompletion? = nil
    var blocks: UInt64 = 0
    if queue.attach(namespace: namespace, to: primary)?.succeeded ?? false {
      if let bytes = queue.identify(
        cns: NVMeNamespaceErase.identifyNamespace, namespace: namespace, count: 4096),
        let current = NVMeNamespaceErase.currentFormat(bytes)
      {
        blocks = current.blocks
        erased = queue.run(
          NVMeNamespaceErase.format(namespace: namespace, lbaFormat: current.lbaFormat, id: 0),
          milliseconds: 20_000)
      }
      _ = queue.detach(namespace: namespace, from: primary)
    }
    let done = erased?.succeeded ?? false
    if !done { unerased.append(namespace) }
    guard Log.begin(done ? .info : .warning) else { return done }
    Console.write("pci sriov ")
    SRIOVDevices.write(entry.address)
    Console.write(": NVMe namespace ")
    Console.write(decimal: UInt64(namespace))
    if done {
      Console.write(" erased for the next owner (Format NVM, SES 1h, ")
      Console.write(decimal: blocks)
      Console.write(" blocks, through the PF's controller ")
      Console.write(decimal: UInt64(primary))
      Console.write(") in ")
      Console.write(decimal: (arch_rdtsc() &- start) / LocalAPIC.tscPerMillisecond)
      Console.write(" ms")
    } else {
      Console.write(" NOT erased (Format NVM ")
      if let erased {
        Console.write("status ")
        Console.write(hex: UInt64(erased.status & 0x7FF))
      } else {
        Console.write("not completed")
      }
      Console.write("): kept detached from every controller")
    }
    Log.end()
    return done
  }

  private static func restore(
    _ queue: inout NVMeAdminQueue,
    _ entry: (address: PCIAddress, controller: UInt16, namespace: UInt32)
  ) {
    // An erase failed on it: it holds an owner's data still and goes to no VF.
    guard !unerased.contains(entry.namespace) else { return }
    let done = queue.attach(namespace: entry.namespace, to: entry.controller)
    say(
      entry.address, .warning, "namespace ", entry.namespace,
      done?.succeeded ?? false
        ? " had been detached from this VF's controller: attached again"
        : " had been detached from this VF's controller: NOT attached again")
  }

  private static func say(
    _ address: PCIAddress, _ level: LogLevel, _ before: StaticString, _ namespace: UInt32,
    _ after: StaticString
  ) {
    guard Log.begin(level) else { return }
    Console.write("pci sriov ")
    SRIOVDevices.write(address)
    Console.write(": NVMe ")
    Console.write(before)
    Console.write(decimal: UInt64(namespace))
    Console.write(after)
    Log.end()
  }

  private static func fail(_ pf: PCIAddress, _ why: StaticString) {
    guard Log.begin(.warning) else { return }
    Console.write("pci sriov ")
    SRIOVDevices.write(pf)
    Console.write(": NVMe namespaces not attached: ")
    Console.write(why)
    Log.end()
  }
}
