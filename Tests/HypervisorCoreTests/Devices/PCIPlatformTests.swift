import XCTest

@testable import HypervisorCore

/// The VM's PCI platform: its ports and windows in the VM's tables, and attach.
final class PCIPlatformTests: XCTestCase {
  private final class Function: VirtualPCIFunction {
    var configuration: VirtualPCIConfiguration
    var messages: (any MessageSignaledInterruptSink)?
    var intx: InterruptLine?
    var reads: [(Int, UInt64)] = []

    init(bars: [(Int, VirtualBAR)], pin: UInt8 = 1) {
      configuration = VirtualPCIConfiguration(
        vendorID: 0x1AF4, deviceID: 0x1044, classCode: 0xFF, subclass: 0, interruptPin: pin)
      for (index, bar) in bars { configuration.declareBAR(index, bar, at: 0) }
    }
    func readBAR(_ index: Int, offset: UInt64, size: UInt8) -> UInt64 {
      reads.append((index, offset))
      return 0x5A
    }
    func writeBAR(_ index: Int, offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
      .none
    }
    func connectInterrupts(_ messages: any MessageSignaledInterruptSink, intx: InterruptLine?) {
      self.messages = messages
      self.intx = intx
    }
  }

  private func machine() -> (VirtualMachine, PCIPlatform) {
    var profile = VMProfile(name: Array("pci".utf8))
    profile.vcpuCount = 2
    let vm = VirtualMachine(id: 1, profile: profile)
    for vcpu in vm.vcpus {
      vcpu.localAPIC = LocalAPICModel(id: UInt8(vcpu.index), clock: NanosecondClock())
    }
    let ioAPIC = IOAPICModel(id: 2, vcpus: vm.vcpus)
    return (vm, PCIPlatform.install(in: vm, ioAPIC: ioAPIC))
  }

  func testTheHostBridgeAnswersOnThePortsAndInTheECAMWindow() {
    let (vm, platform) = machine()
    XCTAssertTrue(vm.pciBus === platform.bus)
    let address = vm.ports.device(for: 0xCF8)!
    XCTAssertNil(vm.ports.device(for: 0xCF9), "0xCF9 is the reset register's")
    _ = address.write(port: 0xCF8, size: 4, value: 0x8000_0000)
    XCTAssertEqual(address.read(port: 0xCF8, size: 4), 0x8000_0000)
    XCTAssertEqual(vm.ports.device(for: 0xCFC)!.read(port: 0xCFC, size: 4), 0x0008_1B36)
    XCTAssertEqual(vm.ports.device(for: 0xCFE)!.read(port: 0xCFE, size: 2), 0x0008)
    _ = vm.ports.device(for: 0xCFB)!.write(port: 0xCFB, size: 1, value: 1)  // Linux's probe
    XCTAssertEqual(address.read(port: 0xCF8, size: 4), 0x8000_0000)
    let ecam = vm.mmio.entry(for: 0xE000_0000)!
    XCTAssertEqual(ecam.size, 1 << 20)
    XCTAssertEqual(ecam.device.read(offset: 0, size: 4), 0x0008_1B36)
    XCTAssertEqual(ecam.device.read(offset: 0xA, size: 2), 0x0600, "class 06/00")
    XCTAssertEqual(ecam.device.read(offset: 1 << 15, size: 4), 0xFFFF_FFFF, "empty slot 1")
    XCTAssertEqual(ecam.device.read(offset: 0, size: 8), UInt64.max, "no 8-byte ECAM")
    XCTAssertNil(vm.mmio.entry(for: 0xE010_0000), "bus 0 only")
    XCTAssertEqual(platform.configurationPorts.accesses, 6)
    XCTAssertEqual(platform.configurationWindow.accesses, 4)
  }

  func testAttachPlacesBARsNaturallyAlignedAndDecodesThem() throws {
    let (vm, platform) = machine()
    let first = Function(bars: [(0, VirtualBAR(.memory32, size: 0x1000))])
    let second = Function(bars: [
      (1, VirtualBAR(.memory32, size: 0x1000)), (4, VirtualBAR(.memory64, size: 0x4000)),
    ])
    let a = try PCIPlatform.attach(first, to: vm).get()
    let b = try PCIPlatform.attach(second, to: vm).get()
    XCTAssertEqual(a.slot, 1)
    XCTAssertEqual(b.slot, 2)
    XCTAssertEqual(a.barAddresses[0], 0xC000_0000)
    XCTAssertEqual(b.barAddresses[4], 0xC000_4000, "the largest first, aligned to its size")
    XCTAssertEqual(b.barAddresses[1], 0xC000_8000)
    XCTAssertEqual(second.configuration.address(ofBAR: 4), 0xC000_4000, "written to the BAR")
    XCTAssertTrue(second.configuration.decodesMemory)
    XCTAssertEqual(
      second.configuration.read(offset: 0x10 + 4 * 4, size: 4) & 0xF, 0b0100, "64-bit type kept")
    let window = vm.mmio.entry(for: 0xC000_8010)!
    XCTAssertEqual(window.device.read(offset: 0x8010, size: 4), 0x5A)
    XCTAssertEqual(second.reads.first?.0, 1)
    XCTAssertEqual(second.reads.first?.1, 0x10)
    XCTAssertEqual(window.device.read(offset: 0x10_0000, size: 4), 0xFFFF_FFFF, "no BAR there")
    XCTAssertEqual(platform.nextBARAddress, 0xC000_9000)
  }

  func testAttachSetsTheInterruptLineAndHandsOverTheRoutes() throws {
    let (vm, platform) = machine()
    let function = Function(bars: [], pin: 2)  // INTB
    let attachment = try PCIPlatform.attach(function, to: vm).get()
    XCTAssertEqual(attachment.gsi, 16 + (1 + 1) % 8)
    XCTAssertEqual(function.configuration.read(offset: 0x3C, size: 1), UInt32(attachment.gsi!))
    XCTAssertTrue(function.messages === platform.messageSignaledInterrupts)
    XCTAssertEqual(function.intx?.pin, attachment.gsi)
    let pinless = Function(bars: [], pin: 0)
    XCTAssertNil(try PCIPlatform.attach(pinless, to: vm).get().gsi)
    XCTAssertNil(pinless.intx)
    XCTAssertNotNil(pinless.messages)
  }

  /// A function that takes its routes at init gets those of the slot it then lands in.
  func testAttachMakingHandsTheRoutesOfTheNextSlotToTheInitializer() throws {
    let (vm, platform) = machine()
    _ = try PCIPlatform.attach(Function(bars: []), to: vm).get()
    var givenLine: InterruptLine? = nil
    let attachment = try PCIPlatform.attach(to: vm) { messages, intx in
      XCTAssertTrue(messages === platform.messageSignaledInterrupts)
      givenLine = intx
      return Function(bars: [(0, VirtualBAR(.memory32, size: 0x100))], pin: 1)
    }.get()
    XCTAssertEqual(attachment.slot, 2)
    XCTAssertEqual(givenLine?.pin, attachment.gsi)
    XCTAssertEqual(attachment.gsi, 18)
  }

  func testAttachRefusesWhenSlotsOrTheWindowRunOut() {
    let (vm, _) = machine()
    let huge = Function(bars: [(0, VirtualBAR(.memory64, size: 1 << 30))])
    XCTAssertEqual(PCIPlatform.attach(huge, to: vm).failure, .memoryWindowExhausted)
    XCTAssertNil(vm.pciBus!.function(at: 1), "nothing attached when refused")
    let half = Function(bars: [(0, VirtualBAR(.memory32, size: 0x1000_0000))])
    XCTAssertNotNil(try? PCIPlatform.attach(half, to: vm).get())
    let tooMany = Function(bars: [
      (0, VirtualBAR(.memory32, size: 0x1000_0000)), (1, VirtualBAR(.memory32, size: 0x10)),
    ])
    XCTAssertEqual(PCIPlatform.attach(tooMany, to: vm).failure, .memoryWindowExhausted)
    for _ in 2..<32 { XCTAssertNotNil(try? PCIPlatform.attach(Function(bars: []), to: vm).get()) }
    XCTAssertEqual(PCIPlatform.attach(Function(bars: []), to: vm).failure, .noFreeSlot)
    let bare = VirtualMachine(id: 2, profile: VMProfile(name: Array("bare".utf8)))
    XCTAssertEqual(PCIPlatform.attach(Function(bars: []), to: bare).failure, .noPCIBus)
  }

  func testINTxSwizzle() {
    XCTAssertEqual(PCIPlatform.gsi(slot: 1, pin: 1), 17)
    XCTAssertEqual(PCIPlatform.gsi(slot: 7, pin: 1), 23)
    XCTAssertEqual(PCIPlatform.gsi(slot: 7, pin: 2), 16)
    XCTAssertEqual(PCIPlatform.gsi(slot: 31, pin: 4), 16 + (31 + 3) % 8)
  }
}

extension Result {
  fileprivate var failure: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
