import HypervisorCore
import NetworkProtocols

/// The guest NICs of the node's VMs (docs/guest-io.md): one virtio-net model per MAC of the
/// profile, each a port of the node's switch (`DataNetwork.virtualSwitch`) and a function
/// on its VM's virtual PCI bus. Kept here by VM identity so that status requests can read
/// their counters and the VM's release can take them off the switch before its memory goes.
enum GuestNICs {
  private static let lock = TicketLock()
  nonisolated(unsafe) private static var table:
    [(vm: Int, nics: [HypervisorCore.VirtioNetDevice])] =
      []

  /// Why `profile`'s NICs cannot be created on this node now, or nil: checked before the
  /// VM is built, so a refused create takes nothing. `incoming`: the MAC may be seen on the
  /// network (it is the VM's own source copy, `VirtualSwitch.register`).
  static func refusal(for profile: VMProfile, incoming: Bool = false) -> StaticString? {
    let now = ManagementNetwork.milliseconds()
    for (index, mac) in profile.nicMACs.enumerated() {
      guard let value = EthernetFrame.address(mac) else {
        return "a guest NIC's MAC is not 6 bytes"
      }
      if profile.nicMACs[..<index].contains(mac) { return "two guest NICs have the same MAC" }
      if let refusal = DataNetwork.virtualSwitch.refusal(
        for: value, now: now, incoming: incoming)
      {
        return describe(refusal)
      }
    }
    return nil
  }

  static func describe(_ refusal: SwitchRefusal) -> StaticString {
    switch refusal {
    case .duplicateMAC: "a guest NIC's MAC is another VM's on this node"
    case .seenOnNetwork: "a guest NIC's MAC is in use on the network (seen on the data NIC)"
    case .notUnicast: "a guest NIC's MAC is not a unicast address"
    case .tooManyPorts: "the node's guest switch has no free port"
    }
  }

  /// Makes the NICs of `profile` and puts them on the switch (before the VM is built: a
  /// refusal takes nothing); on a refusal none stays on it. Creates are serialized on CPU 0,
  /// so `refusal(for:)` and this agree. An incoming VM's NICs take dormant ports, woken by
  /// `activate` when its state is restored.
  static func create(for profile: VMProfile, incoming: Bool = false) -> (
    nics: [HypervisorCore.VirtioNetDevice], refusal: StaticString?
  ) {
    if let refusal = refusal(for: profile, incoming: incoming) { return ([], refusal) }
    let now = ManagementNetwork.milliseconds()
    var made: [HypervisorCore.VirtioNetDevice] = []
    for mac in profile.nicMACs {
      let nic = HypervisorCore.VirtioNetDevice(mac: EthernetFrame.address(mac) ?? 0)
      if let refusal = nic.connect(to: DataNetwork.virtualSwitch, now: now, incoming: incoming) {
        for connected in made { connected.disconnect() }
        return ([], describe(refusal))
      }
      made.append(nic)
    }
    return (made, nil)
  }

  /// `nics` (from `create`) belong to `vm` from now on; `release` takes them off the switch.
  static func adopt(_ nics: [HypervisorCore.VirtioNetDevice], by vm: VirtualMachine) {
    guard !nics.isEmpty else { return }
    lock.withLock { table.append((vm.id, nics)) }
  }

  /// VM `id` was restored and runs: its NICs' dormant ports forward from now on, and each
  /// MAC is announced on the network (a migrated VM's peers and switches find it here).
  static func activate(_ id: Int) {
    for nic in nics(of: id) { nic.activate() }
  }

  /// `nics` whose VM was not built after all.
  static func abandon(_ nics: [HypervisorCore.VirtioNetDevice]) {
    for nic in nics { nic.disconnect() }
  }

  /// The NICs of VM `id` (for its status), in profile order.
  static func nics(of id: Int) -> [HypervisorCore.VirtioNetDevice] {
    lock.withLock { table.first { $0.vm == id }?.nics ?? [] }
  }

  /// One line per NIC of `vm` (when it ends): frames and bytes each way, bytes copied and
  /// copies, doorbells, the VM's exits (for exits per packet), drops by reason when there
  /// were any, and the times its transmit queue blocked on a full receiver.
  static func report(_ vm: VirtualMachine) {
    for (index, nic) in nics(of: vm.id).enumerated() {
      let counters = nic.counters
      Console.together {
        Console.write("net: vm ")
        Console.write(bytes: vm.name)
        Console.write(" nic")
        Console.write(decimal: UInt64(index))
        Console.write(" ")
        NetLog.mac(MACAddress(nic.mac))
        Console.write(" tx ")
        Console.write(decimal: counters.transmittedFrames)
        Console.write(" frames ")
        Console.write(decimal: counters.transmittedBytes)
        Console.write(" bytes, rx ")
        Console.write(decimal: counters.receivedFrames)
        Console.write(" frames ")
        Console.write(decimal: counters.receivedBytes)
        Console.write(" bytes, copied ")
        Console.write(decimal: counters.copiedBytes)
        Console.write(" bytes in ")
        Console.write(decimal: counters.copies)
        Console.write(" copies, ")
        Console.write(decimal: counters.notifications)
        Console.write(" doorbells, vm exits ")
        Console.write(decimal: vm.totalStatistics().totalExits)
        Console.write(", dropped ")
        Console.write(decimal: counters.totalDrops)
        for reason in VirtioNetDrop.allCases where counters.dropped(reason) > 0 {
          Console.write(" ")
          Console.write(name(reason))
          Console.write("=")
          Console.write(decimal: counters.dropped(reason))
        }
        // Not a drop (the frames waited and went): after the drops, so parsers of the line
        // up to them still match.
        Console.write(", tx-deferred ")
        Console.write(decimal: counters.transmitDeferred)
        Console.write("\n")
      }
    }
  }

  static func name(_ reason: VirtioNetDrop) -> StaticString {
    switch reason {
    case .transmitTooShort: "tx-too-short"
    case .transmitTooLong: "tx-too-long"
    case .transmitSpoofed: "tx-spoofed"
    case .transmitNoRoute: "tx-no-route"
    case .transmitPeerRefused: "tx-peer-refused"
    case .transmitHeldAtSave: "tx-held-at-save"
    case .receiveNotReady: "rx-not-ready"
    case .receiveNoBuffer: "rx-no-buffer"
    case .receiveBufferTooSmall: "rx-buffer-too-small"
    case .queueFault: "queue-fault"
    }
  }

  /// Takes `vm`'s NICs off the switch: when this returns no CPU writes into its memory.
  static func release(_ vm: VirtualMachine) {
    let nics: [HypervisorCore.VirtioNetDevice] = lock.withLock {
      guard let index = table.firstIndex(where: { $0.vm == vm.id }) else { return [] }
      return table.remove(at: index).nics
    }
    for nic in nics {
      nic.disconnect()
      nic.reset()
    }
  }
}
