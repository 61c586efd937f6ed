/// A gang VM and the CPU of each of its vCPUs (`cpus[vcpu]`), as placement chose them.
public struct GangMember: Equatable {
  public var vm: Int
  public var cpus: [Int]

  public init(vm: Int, cpus: [Int]) {
    self.vm = vm
    self.cpus = cpus
  }
}

/// Why a set of gang VMs has no schedule (placement never produces these).
public enum GangPlanError: Error, Equatable {
  case noSuchCPU(vm: Int, cpu: Int)
  case cpuUsedTwice(vm: Int, cpu: Int)
  case vmListedTwice(Int)
  case noVCPUs(vm: Int)
}

/// The rotation of time slots that gang VMs share: in each slot every VM of the slot runs
/// all its vCPUs at once, and two VMs of one slot never share a CPU. Every VM has at least
/// one slot per rotation; a VM whose CPUs are free in another slot runs there too, so no
/// CPU idles while a gang VM could use it.
///
/// The CPUs switch slots together at a shared TSC deadline (`GangClock`); each CPU finds
/// what to run in a slot with one table lookup (`entry(cpu:slot:)`), no locks and no
/// messages. Shared vCPUs may run on a CPU in the slots where it has no gang entry.
public struct GangSchedule: Equatable {
  /// A gang vCPU's place in a slot.
  public struct Entry: Equatable {
    public var vm: Int
    public var vcpu: Int
  }

  public let cpuCount: Int
  /// At least 1 (an empty rotation has one empty slot).
  public let slotCount: Int
  /// The VMs running in each slot.
  public let slots: [[Int]]
  /// `table[cpu * slotCount + slot]`.
  private let table: [Entry?]

  /// Plans the rotation: VMs with the most vCPUs first, each in the first slot where none
  /// of its CPUs is taken (greedy colouring of the "shares a CPU" graph), then every VM is
  /// added to each other slot where all its CPUs are still free.
  public static func plan(members: [GangMember], cpuCount: Int) -> Result<
    GangSchedule, GangPlanError
  > {
    for (position, member) in members.enumerated() {
      guard !member.cpus.isEmpty else { return .failure(.noVCPUs(vm: member.vm)) }
      if members[..<position].contains(where: { $0.vm == member.vm }) {
        return .failure(.vmListedTwice(member.vm))
      }
      for (vcpu, cpu) in member.cpus.enumerated() {
        guard cpu >= 0 && cpu < cpuCount else {
          return .failure(.noSuchCPU(vm: member.vm, cpu: cpu))
        }
        if member.cpus[..<vcpu].contains(cpu) {
          return .failure(.cpuUsedTwice(vm: member.vm, cpu: cpu))
        }
      }
    }
    let order = members.indices.sorted {
      (-members[$0].cpus.count, members[$0].vm) < (-members[$1].cpus.count, members[$1].vm)
    }
    // occupant[slot][cpu]: the member index using that CPU in that slot.
    var occupant: [[Int?]] = []
    var slotMembers: [[Int]] = []
    func fits(_ member: Int, _ slot: Int) -> Bool {
      members[member].cpus.allSatisfy { occupant[slot][$0] == nil }
    }
    func put(_ member: Int, _ slot: Int) {
      for cpu in members[member].cpus { occupant[slot][cpu] = member }
      slotMembers[slot].append(member)
    }
    for member in order {
      var slot = 0
      while slot < occupant.count && !fits(member, slot) { slot += 1 }
      if slot == occupant.count {
        occupant.append(Array(repeating: nil, count: cpuCount))
        slotMembers.append([])
      }
      put(member, slot)
    }
    for slot in occupant.indices {
      for member in order where !slotMembers[slot].contains(member) && fits(member, slot) {
        put(member, slot)
      }
    }
    if occupant.isEmpty {
      occupant.append(Array(repeating: nil, count: cpuCount))
      slotMembers.append([])
    }
    let slotCount = occupant.count
    var table: [Entry?] = Array(repeating: nil, count: cpuCount * slotCount)
    for slot in 0..<slotCount {
      for member in slotMembers[slot] {
        for (vcpu, cpu) in members[member].cpus.enumerated() {
          table[cpu * slotCount + slot] = Entry(vm: members[member].vm, vcpu: vcpu)
        }
      }
    }
    return .success(
      GangSchedule(
        cpuCount: cpuCount, slotCount: slotCount,
        slots: slotMembers.map { $0.map { members[$0].vm }.sorted() }, table: table))
  }

  private init(cpuCount: Int, slotCount: Int, slots: [[Int]], table: [Entry?]) {
    self.cpuCount = cpuCount
    self.slotCount = slotCount
    self.slots = slots
    self.table = table
  }

  /// The gang vCPU `cpu` runs in `slot`, if any.
  public func entry(cpu: Int, slot: Int) -> Entry? {
    guard cpu >= 0 && cpu < cpuCount && slot >= 0 && slot < slotCount else { return nil }
    return table[cpu * slotCount + slot]
  }

  /// `cpu`'s entry in every slot, by slot: a copy for the CPU to keep in its own per-CPU
  /// block, so a slot switch reads nothing that other CPUs share.
  public func entries(forCPU cpu: Int) -> [Entry?] {
    (0..<slotCount).map { entry(cpu: cpu, slot: $0) }
  }

  /// The slots in which `vm` runs.
  public func slots(of vm: Int) -> [Int] {
    slots.indices.filter { slots[$0].contains(vm) }
  }
}

/// The shared time base of a gang rotation: every CPU computes the current slot from its
/// own TSC (synchronized across CPUs), with no communication.
public struct GangClock: Equatable {
  /// The TSC value at which slot 0 of the first rotation began.
  public var epoch: UInt64
  /// TSC ticks per slot (greater than 0).
  public var sliceLength: UInt64
  public var slotCount: Int

  public init(epoch: UInt64, sliceLength: UInt64, slotCount: Int) {
    self.epoch = epoch
    self.sliceLength = max(sliceLength, 1)
    self.slotCount = max(slotCount, 1)
  }

  /// (tsc - epoch) / sliceLength % slotCount; slot 0 before the epoch.
  public func slot(at tsc: UInt64) -> Int {
    guard tsc >= epoch else { return 0 }
    return Int((tsc - epoch) / sliceLength % UInt64(slotCount))
  }

  /// The TSC deadline of the next slot switch after `tsc`.
  public func nextSwitch(after tsc: UInt64) -> UInt64 {
    guard tsc >= epoch else { return epoch }
    let (next, overflow) = ((tsc - epoch) / sliceLength + 1).multipliedReportingOverflow(
      by: sliceLength)
    guard !overflow else { return UInt64.max }
    let (deadline, carry) = epoch.addingReportingOverflow(next)
    return carry ? UInt64.max : deadline
  }
}
