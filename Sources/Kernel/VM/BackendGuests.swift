import HypervisorCore

/// A backend's per-VM state (SVMGuest, VMXGuest): found by its VM.
protocol BackendGuest: AnyObject {
  var vm: VirtualMachine { get }
}

/// The VMs a backend has admitted, each with its vendor state.
struct BackendGuests<Guest: BackendGuest> {
  private var guests: [Guest] = []

  func guest(for vm: VirtualMachine) -> Guest? { guests.first { $0.vm === vm } }

  mutating func add(_ guest: Guest) { guests.append(guest) }

  /// Forgets the VM's state and hands it back for release.
  mutating func remove(for vm: VirtualMachine) -> Guest? {
    guard let index = guests.firstIndex(where: { $0.vm === vm }) else { return nil }
    return guests.remove(at: index)
  }
}
