import CArch
import HypervisorCore

/// The per-vCPU block the world switch serves hot exits from (exit_fast_path.h): the CPUID
/// answers CPUIDPolicy precomputes, the code-page cache's proof copied for the assembly, and
/// the count of exits served there, folded into the vCPU's statistics (docs/exit-path.md).
enum ExitFastPath {
  typealias Block = UnsafeMutablePointer<exit_fast_path>

  /// The block and its port bitmap, zeroed (disabled, no proof, empty tables), or nil when
  /// memory ran out.
  static func allocate() -> UInt64? {
    PhysicalFrames.allocateZeroed(frames: Int(EXIT_FAST_PATH_FRAMES))
  }

  static func free(_ address: UInt64) {
    PhysicalFrames.free(address, frames: Int(EXIT_FAST_PATH_FRAMES))
  }

  static func block(_ address: UInt64) -> Block {
    IdentityMappedMemory().pointer(to: address).assumingMemoryBound(to: exit_fast_path.self)
  }

  /// Brings the tables up to date at the start of a slice: the CPUID answers (`reserved`
  /// records what they were filled for: 1 + local APIC), the ports devices claim (device
  /// tables only grow, so their size says whether it changed), the hypercall answer.
  static func prepare(_ fast: Block, vcpu: VirtualCPU, vm: VirtualMachine) {
    let filledFor: UInt64 = vcpu.localAPIC != nil ? 2 : 1
    if fast.pointee.reserved != filledFor {
      fillCPUID(fast, vcpu: vcpu, vm: vm)
      fast.pointee.reserved = filledFor
    }
    if fast.pointee.ports_filled_for != UInt64(vm.ports.entries.count)
      || fast.pointee.port_bitmap == 0
    {
      fillPorts(fast, vm: vm)
    }
    fast.pointee.identify_rbx = HypercallHandler.identifyAnswer.rbx
    fast.pointee.identify_rcx = HypercallHandler.identifyAnswer.rcx
  }

  /// The ports some device claims, one bit each (the frames after the block): IN/OUT on any
  /// other port is what PortIOHandler does for no device, which the world switch can do.
  @inline(never)
  static func fillPorts(_ fast: Block, vm: VirtualMachine) {
    let bitmapAddress = UInt64(UInt(bitPattern: fast)) &+ 4096
    let bitmap = IdentityMappedMemory().pointer(to: bitmapAddress).assumingMemoryBound(
      to: UInt8.self)
    for entry in vm.ports.entries {
      var port = Int(entry.first)
      while port <= Int(entry.last) {
        bitmap[port >> 3] |= 1 << UInt8(port & 7)
        port += 1
      }
    }
    fast.pointee.ports_filled_for = UInt64(vm.ports.entries.count)
    fast.pointee.port_bitmap = bitmapAddress
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
            host: { GuestVisibleCPUID.cpuid(leaf: $0, subleaf: $1) })
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
  static func copyProof(_ fast: Block, vcpu: VirtualCPU) {
    let cache = vcpu.codeCache
    fast.pointee.proof_generation = vcpu.codeCacheGeneration
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
    let statistics = vcpu.statistics
    statistics.recordFast(.cpuid, count: fast.pointee.cpuid_served)
    let reads = fast.pointee.port_reads_served
    let writes = fast.pointee.port_writes_served
    statistics.recordFast(.portIO, count: reads &+ writes)
    statistics.unhandledPortReads &+= reads
    statistics.unhandledPortWrites &+= writes
    statistics.recordFast(.hypercall, count: fast.pointee.hypercalls_served)
    fast.pointee.cpuid_served = 0
    fast.pointee.port_reads_served = 0
    fast.pointee.port_writes_served = 0
    fast.pointee.hypercalls_served = 0
    fast.pointee.served = 0
  }
}
