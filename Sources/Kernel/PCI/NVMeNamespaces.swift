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
enum NVMeNamespaces {
  static func attach(
    _ queue: inout NVMeAdminQueue, pf: PCIAddress,
    secondaries: [(vf: SRIOVDevices.VirtualFunction, controller: UInt16)]
  ) {
    guard
      let listBytes = queue.identify(
        cns: NVMeNamespaceAttachment.allocatedNamespaceList, count: 4096)
    else {
      fail(pf, "Identify of the allocated namespaces failed")
      return
    }
    var namespaces: [NVMeNamespaceAttachment.Namespace] = []
    for id in NVMeNamespaceAttachment.namespaces(listBytes) {
      guard
        let bytes = queue.identify(
          cns: NVMeNamespaceAttachment.attachedControllerList, namespace: id, count: 4096)
      else {
        fail(pf, "Identify of a namespace's controllers failed")
        return
      }
      namespaces.append(
        NVMeNamespaceAttachment.Namespace(
          id: id, attached: NVMeNamespaceAttachment.controllers(bytes)))
    }
    let steps = NVMeNamespaceAttachment.plan(
      namespaces: namespaces, secondaries: secondaries.map { $0.controller })
    for secondary in secondaries {
      let step = steps.first(where: { $0.controller == secondary.controller })
      var completion: NVMeCompletion? = nil
      if let step { completion = queue.attach(namespace: step.namespace, to: step.controller) }
      let attached = completion?.succeeded ?? false
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
