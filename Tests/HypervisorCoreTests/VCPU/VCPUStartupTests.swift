import HypervisorCore
import XCTest

/// INIT and SIPI on the receiving vCPU (SDM 3A §9.4.3, §8.4), `start=bsp`, and the state a
/// start-up IPI gives.
final class VCPUStartupTests: XCTestCase {
  private let clock = NanosecondClock()

  private func machine(vcpus: Int, start: VMProfile.Startup = .allVCPUs) -> VirtualMachine {
    var profile = VMProfile(name: Array("startup".utf8))
    profile.vcpuCount = vcpus
    profile.startup = start
    let vm = VirtualMachine(id: 0, profile: profile)
    for vcpu in vm.vcpus {
      let apic = LocalAPICModel(id: UInt8(vcpu.index), clock: clock)
      _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)
      vcpu.localAPIC = apic
    }
    return vm
  }

  func testStartupStateIsRealModeAtTheVectorsPage() {
    let state = InitialCPUState.startup(vector: 0x9A)
    XCTAssertEqual(state.code.selector, 0x9A00)
    XCTAssertEqual(state.code.base, 0x9_A000)
    XCTAssertEqual(state.code.limit, 0xFFFF)
    XCTAssertEqual(state.rip, 0)
    XCTAssertEqual(state.cr0 & 1, 0, "real mode")
    XCTAssertFalse(state.isLongMode)
    XCTAssertEqual(InitialCPUState.startup(vector: 0).code.base, 0)
  }

  func testINITThenSIPIStartsTheVCPUAtTheVector() {
    let vm = machine(vcpus: 2)
    let vcpu = vm.vcpus[1]
    vcpu.registers.rax = 0x1234
    vcpu.registers.rip = 0x5555
    vcpu.post(.initSignal)
    _ = VCPURequests.drain(vcpu, vm: vm)
    XCTAssertEqual(vcpu.state, .waitingForStartup)
    XCTAssertNil(vcpu.startupState)
    vcpu.postStartup(vector: 0x08)
    _ = VCPURequests.drain(vcpu, vm: vm)
    XCTAssertEqual(vcpu.state, .runnable)
    XCTAssertEqual(vcpu.startupState, .startup(vector: 0x08))
    XCTAssertEqual(vcpu.startupState?.code.base, 0x8000)
    XCTAssertEqual(vcpu.registers.rax, 0, "general registers cleared")
    // The second SIPI of INIT-SIPI-SIPI finds it started: ignored.
    vcpu.startupState = nil  // the backend loaded it
    vcpu.postStartup(vector: 0x09)
    _ = VCPURequests.drain(vcpu, vm: vm)
    XCTAssertNil(vcpu.startupState)
    XCTAssertEqual(vcpu.state, .runnable)
  }

  func testASIPIWithoutINITIsIgnored() {
    let vm = machine(vcpus: 2)
    vm.vcpus[1].state = .halted
    vm.vcpus[1].postStartup(vector: 0x10)
    _ = VCPURequests.drain(vm.vcpus[1], vm: vm)
    XCTAssertEqual(vm.vcpus[1].state, .halted)
    XCTAssertNil(vm.vcpus[1].startupState)
  }

  /// INIT, whatever the vCPU does: events dropped, APIC reset but for its ID and mode.
  func testINITDropsPendingEventsAndResetsTheAPIC() {
    let vm = machine(vcpus: 2)
    let vcpu = vm.vcpus[1]
    let apic = vcpu.localAPIC!
    XCTAssertTrue(apic.setBaseMSR(0xFEE0_0C00))  // x2APIC
    XCTAssertTrue(apic.writeX2APIC(0x808, 0x20))  // TPR
    apic.request(0x50)
    apic.latchNMIs(1)
    vcpu.pendingEvent = .generalProtection(0)
    vcpu.state = .halted
    vcpu.post(.initSignal)
    _ = VCPURequests.drain(vcpu, vm: vm)
    XCTAssertEqual(vcpu.state, .waitingForStartup)
    XCTAssertNil(vcpu.pendingEvent)
    XCTAssertFalse(apic.nmiPending)
    XCTAssertEqual(apic.readX2APIC(0x808), 0, "TPR reset")
    XCTAssertEqual(apic.readX2APIC(0x80F), 0xFF, "software-disabled, spurious vector 0xFF")
    XCTAssertEqual(apic.readX2APIC(0x824), 0, "IRR cleared")
    XCTAssertEqual(apic.readX2APIC(0x832), 0x1_0000, "LVT masked")
    XCTAssertEqual(apic.readX2APIC(0x802), 1, "ID kept")
    XCTAssertEqual(apic.mode, .x2APIC, "IA32_APIC_BASE kept")
  }

  func testAStoppedVCPUStaysStopped() {
    let vm = machine(vcpus: 2)
    vm.vcpus[1].state = .stopped
    vm.vcpus[1].post(.initSignal)
    vm.vcpus[1].postStartup(vector: 1)
    _ = VCPURequests.drain(vm.vcpus[1], vm: vm)
    XCTAssertEqual(vm.vcpus[1].state, .stopped)
  }

  func testStartBSPHoldsTheApplicationProcessors() {
    XCTAssertEqual(
      machine(vcpus: 3, start: .bootstrapOnly).vcpus.map(\.state),
      [.runnable, .waitingForStartup, .waitingForStartup])
    XCTAssertEqual(machine(vcpus: 3).vcpus.map(\.state), [.runnable, .runnable, .runnable])
    let linuxStyle = machine(vcpus: 2)
    linuxStyle.holdApplicationProcessors()
    XCTAssertEqual(linuxStyle.vcpus.map(\.state), [.runnable, .waitingForStartup])
  }

  func testProfileStartOption() throws {
    func parse(_ line: String) -> Result<VMProfile, VMProfileError> {
      VMProfile.parse(Array(line.utf8))
    }
    XCTAssertEqual(try parse("vm name=a cpus=2").get().startup, .allVCPUs)
    XCTAssertEqual(try parse("vm name=a start=all").get().startup, .allVCPUs)
    XCTAssertEqual(try parse("vm name=a cpus=4 start=bsp").get().startup, .bootstrapOnly)
    XCTAssertEqual(parse("vm name=a start=ap"), .failure(.invalidValue(Array("start".utf8))))
    XCTAssertEqual(
      parse("vm name=a start=bsp start=all"), .failure(.repeatedKey(Array("start".utf8))))
  }

}
