/// The PDPTE load of a MOV to CR0, CR3 or CR4 that leaves the guest in PAE paging
/// (SDM 3A §4.4.1), for backends that hold the PDPTEs in their guest state (VT-x with EPT).
extension ControlRegisterHandler {
  enum PAELoad: Equatable {
    /// The MOV loads no PDPTEs (or the backend does not hold them).
    case none
    case load(PAEDirectoryPointers)
    /// A present PDPTE has a reserved bit set: the MOV is #GP(0) and changes nothing.
    case generalProtection
  }

  /// What MOV of `value` to CR`number` does to the PDPTEs. Reads nothing more for a write
  /// that leaves paging off, the common case.
  static func paeLoad<Guest: GuestStateAccess>(
    _ number: UInt8, _ value: UInt64, vm: VirtualMachine, guest: Guest
  ) -> PAELoad {
    guard guest.holdsPAEPointers else { return .none }
    let cr0 = number == 0 ? value : guest.readControlRegister(0)
    guard cr0 & PAEDirectoryPointers.pg != 0 else { return .none }
    let cr4 = number == 4 ? value : guest.readControlRegister(4)
    let efer = guest.readStateMSR(MSRPolicy.efer) ?? 0
    let old = guest.readControlRegister(number)
    guard
      PAEDirectoryPointers.loadedBy(
        controlRegister: number, old: old, new: value, cr0: cr0, cr4: cr4, efer: efer)
    else { return .none }
    let cr3 = number == 3 ? value : guest.readControlRegister(3)
    // MAXPHYADDR: CPUID.80000008H:EAX[7:0] (SDM 3A §4.1.4); the CPUID policy passes it on.
    let width = UInt8(truncatingIfNeeded: guest.hostCPUID(leaf: 0x8000_0008, subleaf: 0).eax)
    guard
      let pointers = PAEDirectoryPointers.read(
        cr3: cr3, memory: vm.memory, physicalAddressBits: width == 0 ? 36 : width)
    else { return .generalProtection }
    return .load(pointers)
  }
}
