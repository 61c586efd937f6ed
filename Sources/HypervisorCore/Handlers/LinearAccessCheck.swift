import Memory

/// The guest's own paging protection for a data access the hypervisor emulates (MMIO, the
/// memory operand of INS/OUTS): the processor would have checked it before touching memory,
/// but an exit can arrive first (QEMU's SVM reports the nested page fault for a CPL 3 access
/// to a supervisor page), and string I/O exits before the memory access. A violation is the
/// guest's #PF: nothing is emulated, RIP stays, CR2 is the linear address.
enum LinearAccessCheck {
  /// #PF error code bits (SDM Vol 3A §4.7, Figure 4-12; APM Vol 2 §8.4.2).
  static let protectionViolation: UInt32 = 1 << 0
  static let writeAccess: UInt32 = 1 << 1
  static let userAccess: UInt32 = 1 << 2

  static let writeProtect: UInt64 = 1 << 16  // CR0.WP
  static let smap: UInt64 = 1 << 21  // CR4.SMAP
  static let alignmentCheck: UInt64 = 1 << 18  // RFLAGS.AC

  /// The page-fault error code for an access with these rights, or nil when it is allowed
  /// (SDM Vol 3A §4.6.1; APM Vol 2 §5.6). `rights` nil: the linear address is not present.
  static func faultCode(
    rights: GuestPageRights?, write: Bool, privilegeLevel: UInt8, rflags: UInt64, mode: GuestMode
  ) -> UInt32? {
    let userMode = privilegeLevel == 3
    var code: UInt32 = (write ? writeAccess : 0) | (userMode ? userAccess : 0)
    guard let rights else { return code }  // P = 0: not present
    code |= protectionViolation
    if userMode {
      // CPL 3 reads and writes need U/S = 1 at every level; writes R/W = 1 too, whatever
      // CR0.WP says.
      if !rights.user || write && !rights.writable { return code }
      return nil
    }
    // Supervisor: a user-mode address is off limits under CR4.SMAP unless RFLAGS.AC = 1
    // (explicit accesses, §4.6.1); a write to a read-only translation faults when CR0.WP = 1.
    if rights.user && mode.cr4 & smap != 0 && rflags & alignmentCheck == 0 { return code }
    if write && !rights.writable && mode.cr0 & writeProtect != 0 { return code }
    return nil
  }

  /// Walks the guest's tables for `linear` and checks the access; on a violation leaves #PF
  /// pending with CR2 set and returns true. Paging off: nothing to check.
  static func faults<Guest: GuestStateAccess>(
    _ linear: UInt64, write: Bool, vcpu: VirtualCPU, mode: GuestMode, memory: GuestMemoryMap,
    guest: inout Guest
  ) -> Bool {
    guard mode.pagingEnabled else { return false }
    let rights = InstructionFetcher.translateWithRights(linear, mode: mode, memory: memory)?
      .rights
    return raise(
      rights: rights, linear: linear, write: write, vcpu: vcpu, mode: mode, guest: &guest)
  }

  /// Checks an access whose rights are already known; on a violation leaves #PF pending.
  static func raise<Guest: GuestStateAccess>(
    rights: GuestPageRights?, linear: UInt64, write: Bool, vcpu: VirtualCPU, mode: GuestMode,
    guest: inout Guest
  ) -> Bool {
    guard
      let code = faultCode(
        rights: rights, write: write, privilegeLevel: guest.privilegeLevel,
        rflags: vcpu.registers.rflags, mode: mode)
    else { return false }
    // CR2 holds the faulting linear address (SDM Vol 3A §4.7; APM Vol 2 §8.4.2).
    vcpu.faultAddress = linear  // VMX's world switch loads CR2 from here
    guest.setFaultAddress(linear)  // SVM's VMCB
    vcpu.pendingEvent = .pageFault(code)
    return true
  }
}
