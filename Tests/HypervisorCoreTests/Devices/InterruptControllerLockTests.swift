import Foundation
import XCTest

@testable import HypervisorCore

/// The VM-wide interrupt controllers (the 8259 pair, the I/O APIC's remote IRR) are changed
/// by device exits under the VM's device lock; the vCPU-side paths that reach them outside an
/// exit — the 8259's INTA at interrupt delivery, an x2APIC EOI's broadcast — must take it
/// too, or a vCPU on another CPU changes them at the same time (LocalAPICModel.devicesLock).
final class InterruptControllerLockTests: XCTestCase {
  /// Two vCPUs with the testdev platform: vCPU 0's LINT0 takes the 8259's INTR, every APIC
  /// broadcasts its EOIs to the I/O APIC.
  private func machine() -> VirtualMachine {
    var profile = VMProfile(name: Array("locks".utf8))
    profile.vcpuCount = 2
    let vm = VirtualMachine(id: 0, profile: profile)
    let ioAPIC = GuestPlatformDevices.installInterruptControllers(in: vm, clock: NanosecondClock())
    GuestPlatformDevices.installTestDevice(in: vm, ioAPIC: ioAPIC)
    return vm
  }

  /// Runs `body` on another thread while this one holds the VM's device lock for 150 ms;
  /// true when `body` finished only after the lock was let go.
  private func waitsForTheDeviceLock(_ vm: VirtualMachine, _ body: @escaping () -> Void) -> Bool {
    let finished = NSLock()
    nonisolated(unsafe) var done = false
    let over = DispatchSemaphore(value: 0)
    vm.lockDevices()
    Thread {
      body()
      finished.lock()
      done = true
      finished.unlock()
      over.signal()
    }.start()
    Thread.sleep(forTimeInterval: 0.15)
    finished.lock()
    let doneWhileHeld = done
    finished.unlock()
    vm.unlockDevices()
    XCTAssertEqual(over.wait(timeout: .now() + 5), .success, "never finished")
    return !doneWhileHeld
  }

  func testTheAPICsShareTheVMsDeviceLock() {
    let vm = machine()
    for vcpu in vm.vcpus { XCTAssertTrue(vcpu.localAPIC?.devicesLock === vm.deviceLock) }
    var profile = VMProfile(name: Array("one".utf8))
    profile.vcpuCount = 1
    let single = VirtualMachine(id: 1, profile: profile)
    let ioAPIC = GuestPlatformDevices.installInterruptControllers(
      in: single, clock: NanosecondClock())
    GuestPlatformDevices.installTestDevice(in: single, ioAPIC: ioAPIC)
    XCTAssertNil(single.vcpus[0].localAPIC?.devicesLock, "one vCPU shares nothing: no lock")
  }

  func testTheINTAOfThe8259sVectorWaitsForTheDeviceLock() {
    let vm = machine()
    let vcpu = vm.vcpus[0]
    let pic = vcpu.localAPIC!.externalInterrupts!
    pic.setLevel(line: 3, high: true)  // the APIC is software-disabled: LINT0 passes INTR
    nonisolated(unsafe) var decision = InterruptDelivery.Decision.none
    XCTAssertTrue(
      waitsForTheDeviceLock(vm) {
        decision = InterruptDelivery.prepare(vcpu, guestCanTakeInterrupt: true)
      })
    XCTAssertEqual(decision, .injected(vector: 0x0B))
    XCTAssertEqual(pic.master.inService, 0x08, "IR3 in service after the INTA")
  }

  func testAnX2APICEOIBroadcastWaitsForTheDeviceLock() {
    let vm = machine()
    let apic = vm.vcpus[1].localAPIC!
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)
    XCTAssertTrue(apic.setBaseMSR(LocalAPICModel.base | 0xC00), "x2APIC mode")
    apic.request(0x41)
    apic.acknowledge(0x41)
    XCTAssertTrue(
      waitsForTheDeviceLock(vm) { XCTAssertTrue(apic.writeX2APIC(0x80B, 0)) })
    XCTAssertEqual(apic.readX2APIC(0x812), 0, "the EOI ended vector 0x41 (ISR bits 95:64)")
  }

  /// Device exits on one thread (8259 line edges and EOIs by port, as PCTestDevice and the
  /// guest do), INTAs on another: every acknowledged vector is one the 8259 was asked for,
  /// and the 8259 ends consistent (no request left in service twice).
  func testExitsAndINTAsOnTwoThreadsKeepThe8259Consistent() {
    let vm = machine()
    let vcpu = vm.vcpus[0]
    let pic = vcpu.localAPIC!.externalInterrupts!
    let rounds = 2000
    let over = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var strays = 0
    Thread {
      for _ in 0..<rounds {
        vm.lockDevices()
        pic.setLevel(line: 3, high: true)
        pic.setLevel(line: 3, high: false)
        _ = pic.write(port: 0x20, size: 1, value: 0x20)  // non-specific EOI
        vm.unlockDevices()
      }
      over.signal()
    }.start()
    Thread {
      for _ in 0..<rounds {
        if let vector = vcpu.localAPIC!.acknowledgeExternal(), vector != 0x0B { strays += 1 }
      }
      over.signal()
    }.start()
    XCTAssertEqual(over.wait(timeout: .now() + 60), .success)
    XCTAssertEqual(over.wait(timeout: .now() + 60), .success)
    XCTAssertEqual(strays, 0, "an INTA gave a vector nobody raised (a spurious IR7)")
    vm.lockDevices()
    XCTAssertEqual(pic.master.inService & ~0x08, 0, "only IR3 was ever in service")
    vm.unlockDevices()
  }
}
