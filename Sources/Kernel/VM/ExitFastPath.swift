import CArch
import HypervisorCore

/// The per-vCPU block the world switch serves hot exits from (exit_fast_path.h): the CPUID
/// answers CPUIDPolicy precomputes, the code-page cache's proof copied for the assembly, and
/// the count of exits served there, folded into the vCPU's statistics (docs/exit-path.md).
enum ExitFastPath {
  typealias Block = UnsafeMutablePointer<exit_fast_path>

  /// One zeroed frame (disabled, no proof, empty table), or nil when memory ran out.
  static func allocate() -> UInt64? { PhysicalFrames.allocateZeroed() }

  static func block(_ address: UInt64) -> Block {
    IdentityMappedMemory().pointer(to: address).assumingMemoryBound(to: exit_fast_path.self)
  }

  /// The CPUID table for `vcpu`, from CPUIDPolicy on this processor's answers: the same
  /// code CPUIDHandler runs. `reserved` records what it was filled for (1 + local APIC).
  static func fillCPUIDIfNeeded(_ fast: Block, vcpu: VirtualCPU, vm: VirtualMachine) {
    let filledFor: UInt64 = vcpu.localAPIC != nil ? 2 : 1
    guard fast.pointee.reserved != filledFor else { return }
    fillCPUID(fast, vcpu: vcpu, vm: vm)
    fast.pointee.reserved = filledFor
  }

  @inline(never)
  static func fillCPUID(_ fast: Block, vcpu: VirtualCPU, vm: VirtualMachine) {
    let hasLocalAPIC = vcpu.localAPIC != nil
    let count = vm.profile.vcpuCount
    withUnsafeMutableBytes(of: &fast.pointee.cpuid) { raw in
      let entries = raw.bindMemory(to: exit_fast_cpuid_entry.self)
      for slot in 0..<min(CPUIDAnswerTable.slotCount, entries.count) {
        guard
          let answer = CPUIDAnswerTable.answer(
            slot: slot, vcpuIndex: vcpu.index, hasLocalAPIC: hasLocalAPIC, vcpuCount: count,
            host: { RealProcessor.cpuid(leaf: $0, subleaf: $1) })
        else {
          entries[slot] = exit_fast_cpuid_entry()
          continue
        }
        var entry = exit_fast_cpuid_entry()
        entry.flags = answer.subleaf == nil ? 1 : 3
        entry.subleaf = answer.subleaf ?? 0
        entry.eax = answer.result.eax
        entry.ebx = answer.result.ebx
        entry.ecx = answer.result.ecx
        entry.edx = answer.result.edx
        entries[slot] = entry
      }
    }
  }

  /// The code-page cache's page and walk, for the assembly to verify on each CPUID exit.
  /// Entries of 32-bit paging (4 bytes) are not copied: no proof, the slow path serves.
  @inline(never)
  static func copyProof(_ fast: Block, from cache: CodePageCache) {
    fast.pointee.proof_generation = cache.generation
    fast.pointee.linear_page = 1  // matches no page unless the whole proof is copied
    // Unused levels read `unused` (offset 96, pinned in exit_fast_path.h), always 0.
    let unused = UInt64(UInt(bitPattern: fast)) &+ 96
    fast.pointee.unused = 0
    func level(_ entry: CodePageCache.PathEntry, _ index: Int) -> (UInt64, UInt64)? {
      guard index < cache.entryCount else { return (unused, 0) }
      return entry.isWide ? (entry.host, entry.value) : nil
    }
    guard let first = level(cache.entries.0, 0), let second = level(cache.entries.1, 1),
      let third = level(cache.entries.2, 2), let fourth = level(cache.entries.3, 3)
    else { return }
    fast.pointee.path_host = (first.0, second.0, third.0, fourth.0)
    fast.pointee.path_value = (first.1, second.1, third.1, fourth.1)
    fast.pointee.address_space = cache.addressSpace
    fast.pointee.host_page = cache.hostPage
    fast.pointee.linear_page = cache.linearPage
  }

  /// Exits served by the world switch, counted per reason (no cycles: it takes no
  /// timestamps). Out of line: the run loop stays small (docs/exit-path.md).
  @inline(never)
  static func countServed(_ fast: Block, vcpu: VirtualCPU) {
    vcpu.statistics.recordFast(.cpuid, count: fast.pointee.cpuid_served)
    fast.pointee.cpuid_served = 0
  }
}
