import CArch
import HypervisorCore

/// Which CPUs the VMs use, for the whole machine: admission asks it where a VM's vCPUs go
/// (VCPUPlacement over the topology) or why they cannot go anywhere, and it keeps the gang
/// rotation every CPU follows. CPU numbers are `CPUs.all` indices, which are the
/// topology's. Admission and VM ends may come from any CPU: the lock serializes them.
final class MachinePlacement {
  let topology: CPUTopology
  private var assignment: CPUAssignment
  private let lock = TicketLock()
  /// The rotation of the gang VMs and the clock all CPUs switch slots by; nil without gang VMs.
  private(set) var gang: (schedule: GangSchedule, clock: GangClock)?
  private var gangMembers: [GangMember] = []

  init(topology: CPUTopology) {
    self.topology = topology
    assignment = CPUAssignment(cpuCount: topology.count)
  }

  /// The CPU of each vCPU of VM `id` with `profile`, recorded as taken; or the refusal.
  func place(_ profile: VMProfile, vm id: Int) -> Result<[Int], PlacementRefusal> {
    lock.withLock {
      let request = PlacementRequest(
        vm: id, vcpuCount: profile.vcpuCount, mode: profile.scheduling,
        explicitCPUs: profile.pinnedCPUs)
      let result = VCPUPlacement(topology: topology, assignment: assignment).place(request)
      if case .success(let cpus) = result {
        assignment.assign(vm: id, mode: profile.scheduling, cpus: cpus)
        if profile.scheduling == .gang {
          gangMembers.append(GangMember(vm: id, cpus: cpus))
          replanGang()
        }
      }
      return result
    }
  }

  /// VM `id` ended: its CPUs are free, and the gang rotation closes its slots.
  func release(vm id: Int) {
    lock.withLock {
      assignment.release(vm: id)
      if gangMembers.contains(where: { $0.vm == id }) {
        gangMembers.removeAll { $0.vm == id }
        replanGang()
      }
    }
  }

  /// A shared vCPU of VM `id` may move from `source` to `destination` if no pinned or gang
  /// VM uses the destination; the move is recorded.
  func moveShared(vm id: Int, from source: Int, to destination: Int) -> Bool {
    lock.withLock {
      guard destination < assignment.cpuCount, assignment.pinnedOwner[destination] == nil,
        assignment.gangVMs[destination].isEmpty
      else { return false }
      assignment.moveSharedVCPU(of: id, from: source, to: destination)
      return true
    }
  }

  /// The gang entry `cpu` runs now and when the slot ends; nil when there is no gang VM.
  func gangTurn(cpu: Int, at now: UInt64) -> (entry: GangSchedule.Entry?, ends: UInt64)? {
    lock.withLock {
      guard let gang else { return nil }
      let slot = gang.clock.slot(at: now)
      return (gang.schedule.entry(cpu: cpu, slot: slot), gang.clock.nextSwitch(after: now))
    }
  }

  /// Slot length: the shared slice, so a gang VM and shared vCPUs get similar turns.
  private func replanGang() {
    guard !gangMembers.isEmpty,
      case .success(let schedule) = GangSchedule.plan(
        members: gangMembers, cpuCount: topology.count)
    else {
      gang = nil
      return
    }
    let length = LocalAPIC.tscPerMillisecond * UInt64(GangSlot.milliseconds)
    // Every CPU computes the slot from the TSC: all switch at the same deadline.
    gang = (
      schedule, GangClock(epoch: arch_rdtsc(), sliceLength: length, slotCount: schedule.slotCount)
    )
  }
}

enum GangSlot {
  static let milliseconds: UInt32 = 5
}
