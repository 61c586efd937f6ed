/// Putting a `SavedVMState` into a VM created `incoming` (restore and the end of a
/// migration, docs/checkpoint.md): every check that can refuse runs before anything
/// changes, and the vCPUs' TSC offsets are made to continue the guest's TSC where it was.
public enum IncomingRestore {
  /// Why a saved state does not fit the VM it was sent to.
  public enum Refusal: Error, Equatable {
    case memorySize(saved: UInt64, vm: UInt64)
    case vcpuCount(saved: Int, vm: Int)
    /// vCPU `index` has a local APIC here and none in the state, or the other way round.
    case localAPIC(vcpu: Int)
    case devices(DeviceRestoreError)

    /// One line for a person, with the numbers.
    public var words: [UInt8] {
      switch self {
      case .memorySize(let saved, let vm):
        return Array("the saved state is of a VM with ".utf8) + Self.decimal(saved)
          + Array(" bytes of memory, this VM has ".utf8) + Self.decimal(vm)
      case .vcpuCount(let saved, let vm):
        return Array("the saved state has ".utf8) + Self.decimal(UInt64(saved))
          + Array(" vCPUs, this VM has ".utf8) + Self.decimal(UInt64(vm))
      case .localAPIC(let vcpu):
        return Array("the saved state and this VM differ in vCPU ".utf8)
          + Self.decimal(UInt64(vcpu)) + Array("'s local APIC".utf8)
      case .devices(.deviceCount(let expected, let found)):
        return Array("the saved state has ".utf8) + Self.decimal(UInt64(found))
          + Array(" device records, this VM's devices take ".utf8)
          + Self.decimal(UInt64(expected))
      case .devices(.kindMismatch(let index)):
        return Array("device record ".utf8) + Self.decimal(UInt64(index))
          + Array(" is not of the kind of this VM's device at that place".utf8)
      case .devices(.builtOtherwise(let index)):
        return Array("device record ".utf8) + Self.decimal(UInt64(index))
          + Array(" is of a device built otherwise (IDs, queues, MAC or disk size differ)".utf8)
      }
    }

    public static func decimal(_ value: UInt64) -> [UInt8] {
      var digits: [UInt8] = []
      var rest = value
      repeat {
        digits.insert(UInt8(rest % 10) + 0x30, at: 0)
        rest /= 10
      } while rest > 0
      return digits
    }
  }

  /// The checks that need no device lock: memory size, vCPU count, and a local APIC record
  /// exactly for the vCPUs that have one. (The devices are checked by `restoreDevices`,
  /// before it changes any model.)
  public static func refusal(_ saved: SavedVMState, for vm: VirtualMachine) -> Refusal? {
    if saved.memorySize != vm.profile.memorySize {
      return .memorySize(saved: saved.memorySize, vm: vm.profile.memorySize)
    }
    if saved.vcpus.count != vm.vcpus.count {
      return .vcpuCount(saved: saved.vcpus.count, vm: vm.vcpus.count)
    }
    for (index, vcpu) in vm.vcpus.enumerated()
    where (vcpu.localAPIC == nil) != (saved.vcpus[index].localAPIC == nil) {
      return .localAPIC(vcpu: index)
    }
    return nil
  }

  /// Checks `saved` against `vm` whole, then restores the VM-wide devices and stages each
  /// vCPU's record in its `incomingState` for its own CPU to apply. Nothing changes when it
  /// throws. The VM must run nowhere (incoming: every vCPU parked).
  public static func stage(_ saved: SavedVMState, into vm: VirtualMachine) throws(Refusal) {
    if let refusal = refusal(saved, for: vm) { throw refusal }
    do throws(DeviceRestoreError) {
      try vm.restoreDevices(saved.devices)
    } catch {
      throw .devices(error)
    }
    for (index, vcpu) in vm.vcpus.enumerated() { vcpu.incomingState = saved.vcpus[index] }
  }
}

/// The guest's TSC across nodes. A TSC offset means something only against the host TSC of
/// the node that set it, so a saved state carries each vCPU's offset *relative to the
/// pause*: the offset plus the host TSC at which the VM's last vCPU parked, which is the
/// guest's TSC at that instant (its clock stands still while paused, docs/lifecycle.md).
/// The node that restores it sets the offset so that the guest's TSC continues from that
/// value at the moment it applies the record: the guest sees no jump, backwards or forwards,
/// whatever the two hosts' TSCs read (same-rate hosts assumed: a guest moved to a host of
/// another TSC rate sees its TSC run at the new rate from then on).
public enum PortableTSC {
  /// The guest's TSC when the VM paused: what the saved record's `tscOffset` holds.
  public static func saved(offset: UInt64, pausedAtHostTSC: UInt64) -> UInt64 {
    offset &+ pausedAtHostTSC
  }

  /// The offset that makes the guest's TSC read `saved` at host TSC `hostNow`.
  public static func offset(saved: UInt64, hostNow: UInt64) -> UInt64 {
    saved &- hostNow
  }
}
