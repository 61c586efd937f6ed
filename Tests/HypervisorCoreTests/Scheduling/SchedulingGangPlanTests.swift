import XCTest

@testable import HypervisorCore

final class SchedulingGangPlanTests: XCTestCase {
  private func plan(_ members: [GangMember], cpus: Int) throws -> GangSchedule {
    try GangSchedule.plan(members: members, cpuCount: cpus).get()
  }

  /// In every slot each VM runs all of its vCPUs or none, each on its own CPU, and no CPU
  /// runs two vCPUs; every VM runs at least once per rotation.
  private func assertInvariants(
    _ schedule: GangSchedule, _ members: [GangMember], file: StaticString = #filePath,
    line: UInt = #line
  ) {
    for slot in 0..<schedule.slotCount {
      for member in members {
        let running = member.cpus.enumerated().filter { vcpu, cpu in
          schedule.entry(cpu: cpu, slot: slot) == GangSchedule.Entry(vm: member.vm, vcpu: vcpu)
        }.count
        XCTAssertTrue(
          running == 0 || running == member.cpus.count,
          "VM \(member.vm) runs \(running) of \(member.cpus.count) vCPUs in slot \(slot)",
          file: file, line: line)
        XCTAssertEqual(
          running == member.cpus.count, schedule.slots[slot].contains(member.vm), file: file,
          line: line)
      }
      var used: [Int] = []
      for vm in schedule.slots[slot] {
        let cpus = members.first { $0.vm == vm }!.cpus
        XCTAssertTrue(
          cpus.allSatisfy { !used.contains($0) }, "CPU shared in slot \(slot)",
          file: file, line: line)
        used += cpus
      }
      for cpu in 0..<schedule.cpuCount where !used.contains(cpu) {
        XCTAssertNil(schedule.entry(cpu: cpu, slot: slot), file: file, line: line)
      }
    }
    for member in members {
      XCTAssertFalse(
        schedule.slots(of: member.vm).isEmpty, "VM \(member.vm) never runs",
        file: file, line: line)
    }
  }

  func testVMsOnDisjointCPUsShareOneSlot() throws {
    let members = [GangMember(vm: 1, cpus: [0, 1]), GangMember(vm: 2, cpus: [2, 3])]
    let schedule = try plan(members, cpus: 4)
    XCTAssertEqual(schedule.slotCount, 1)
    XCTAssertEqual(schedule.slots, [[1, 2]])
    XCTAssertEqual(schedule.entry(cpu: 3, slot: 0), GangSchedule.Entry(vm: 2, vcpu: 1))
    assertInvariants(schedule, members)
  }

  func testOverlappingVMsAlternateAndIdleCPUsAreFilled() throws {
    // 1 and 2 share CPU 1; 3 conflicts with nobody and runs in both slots.
    let members = [
      GangMember(vm: 1, cpus: [0, 1]), GangMember(vm: 2, cpus: [1, 2]),
      GangMember(vm: 3, cpus: [3]),
    ]
    let schedule = try plan(members, cpus: 4)
    XCTAssertEqual(schedule.slotCount, 2)
    XCTAssertEqual(schedule.slots, [[1, 3], [2, 3]])
    XCTAssertNil(schedule.entry(cpu: 0, slot: 1))
    XCTAssertEqual(schedule.entry(cpu: 1, slot: 1), GangSchedule.Entry(vm: 2, vcpu: 0))
    assertInvariants(schedule, members)
  }

  func testEachCPUGetsItsOwnColumn() throws {
    let members = [GangMember(vm: 1, cpus: [0, 1]), GangMember(vm: 2, cpus: [1, 2])]
    let schedule = try plan(members, cpus: 3)
    XCTAssertEqual(
      schedule.entries(forCPU: 1),
      [GangSchedule.Entry(vm: 1, vcpu: 1), GangSchedule.Entry(vm: 2, vcpu: 0)])
    XCTAssertEqual(schedule.entries(forCPU: 0), [GangSchedule.Entry(vm: 1, vcpu: 0), nil])
  }

  func testTwoFullMachineVMsTakeTurns() throws {
    let members = [GangMember(vm: 1, cpus: [0, 1, 2, 3]), GangMember(vm: 2, cpus: [3, 2, 1, 0])]
    let schedule = try plan(members, cpus: 4)
    XCTAssertEqual(schedule.slots, [[1], [2]])
    XCTAssertEqual(schedule.entry(cpu: 0, slot: 1), GangSchedule.Entry(vm: 2, vcpu: 3))
    assertInvariants(schedule, members)
  }

  func testPlacedGangVMsOnRomeKeepTheirVCPUsTogether() throws {
    // Placement, then the plan: five gang VMs on the 2x EPYC 7742 fixture, some overlapping.
    let rome = TopologyFixtures.rome.topology
    var assignment = CPUAssignment(cpuCount: rome.count)
    var members: [GangMember] = []
    for (vm, vcpus) in [(1, 64), (2, 200), (3, 4), (4, 256), (5, 8)] {
      let cpus = try VCPUPlacement(topology: rome, assignment: assignment).place(
        PlacementRequest(vm: vm, vcpuCount: vcpus, mode: .gang)
      ).get()
      assignment.assign(vm: vm, mode: .gang, cpus: cpus)
      members.append(GangMember(vm: vm, cpus: cpus))
    }
    let schedule = try plan(members, cpus: rome.count)
    assertInvariants(schedule, members)
    XCTAssertEqual(schedule.slots(of: 4), [schedule.slots(of: 4)[0]], "VM 4 uses every CPU")
  }

  func testManyOverlappingVMsOnFourCPUs() throws {
    var members: [GangMember] = []
    for vm in 0..<12 {
      let size = vm % 4 + 1
      members.append(GangMember(vm: vm, cpus: (0..<size).map { ($0 + vm) % 4 }))
    }
    let schedule = try plan(members, cpus: 4)
    assertInvariants(schedule, members)
    XCTAssertLessThanOrEqual(schedule.slotCount, 12)
  }

  func testNoGangVMsIsOneEmptySlot() throws {
    let schedule = try plan([], cpus: 2)
    XCTAssertEqual(schedule.slotCount, 1)
    XCTAssertNil(schedule.entry(cpu: 0, slot: 0))
  }

  func testInvalidMembersAreRefused() {
    XCTAssertEqual(
      GangSchedule.plan(members: [GangMember(vm: 1, cpus: [0, 4])], cpuCount: 4),
      .failure(.noSuchCPU(vm: 1, cpu: 4)))
    XCTAssertEqual(
      GangSchedule.plan(members: [GangMember(vm: 1, cpus: [2, 2])], cpuCount: 4),
      .failure(.cpuUsedTwice(vm: 1, cpu: 2)))
    XCTAssertEqual(
      GangSchedule.plan(
        members: [GangMember(vm: 1, cpus: [0]), GangMember(vm: 1, cpus: [1])], cpuCount: 4),
      .failure(.vmListedTwice(1)))
    XCTAssertEqual(
      GangSchedule.plan(members: [GangMember(vm: 1, cpus: [])], cpuCount: 4),
      .failure(.noVCPUs(vm: 1)))
  }

  // MARK: The shared clock

  func testEveryCPUComputesTheSameSlotFromTheTSC() {
    let clock = GangClock(epoch: 1_000, sliceLength: 100, slotCount: 3)
    XCTAssertEqual(clock.slot(at: 500), 0, "before the epoch")
    XCTAssertEqual(clock.slot(at: 1_000), 0)
    XCTAssertEqual(clock.slot(at: 1_099), 0)
    XCTAssertEqual(clock.slot(at: 1_100), 1)
    XCTAssertEqual(clock.slot(at: 1_250), 2)
    XCTAssertEqual(clock.slot(at: 1_300), 0, "the rotation starts over")
    XCTAssertEqual(clock.nextSwitch(after: 500), 1_000)
    XCTAssertEqual(clock.nextSwitch(after: 1_000), 1_100)
    XCTAssertEqual(clock.nextSwitch(after: 1_299), 1_300)
    XCTAssertEqual(clock.nextSwitch(after: UInt64.max - 1), UInt64.max)
  }

  func testEachVMRunsOncePerRotationAtLeast() throws {
    let members = [
      GangMember(vm: 1, cpus: [0, 1]), GangMember(vm: 2, cpus: [1, 2]),
      GangMember(vm: 3, cpus: [2, 0]),
    ]
    let schedule = try plan(members, cpus: 3)
    let clock = GangClock(epoch: 0, sliceLength: 10, slotCount: schedule.slotCount)
    var ran: [Int: Int] = [:]
    for tick in stride(from: UInt64(0), to: UInt64(10 * schedule.slotCount), by: 10) {
      for vm in schedule.slots[clock.slot(at: tick)] { ran[vm, default: 0] += 1 }
    }
    XCTAssertEqual(schedule.slotCount, 3, "each pair conflicts")
    XCTAssertEqual(ran, [1: 1, 2: 1, 3: 1])
  }
}
