import XCTest

@testable import HypervisorCore

/// The ACPI PM timer and fw_cfg that multiboot test kernels read (docs/multiboot-guest.md).
final class PlatformDeviceTests: XCTestCase {
  func testPMTimerCountsAt3579545HzOfGuestTime() {
    let clock = RateClock(now: 5_000, ticksPerSecond: 1_000_000_000)
    let timer = ACPIPMTimer(clock: clock, port: 0x608)
    XCTAssertEqual(timer.read(port: 0x608, size: 4), 0)
    clock.now += 1_000_000  // 1 ms
    XCTAssertEqual(timer.read(port: 0x608, size: 4), 3579, "3.579545 MHz: 3579 counts per ms")
    clock.now += 999_000_000
    XCTAssertEqual(timer.read(port: 0x608, size: 4), 3_579_545)
  }

  func testPMTimerIs24BitsAndReadsByByte() {
    let clock = RateClock(now: 0, ticksPerSecond: 3_579_545)
    let timer = ACPIPMTimer(clock: clock, port: 0x608)
    clock.now = 0x0123_4567
    XCTAssertEqual(timer.read(port: 0x608, size: 4), 0x23_4567, "wraps at 2^24")
    XCTAssertEqual(timer.read(port: 0x608, size: 1), 0x67)
    XCTAssertEqual(timer.read(port: 0x609, size: 1), 0x45)
    XCTAssertEqual(timer.read(port: 0x60A, size: 2), 0x23)
    XCTAssertEqual(timer.write(port: 0x608, size: 4, value: 0), .none, "read-only")
    XCTAssertEqual(timer.read(port: 0x608, size: 4), 0x23_4567)
  }

  func testPMTimerStandsStillWhilePausedAndResumesElsewhere() {
    let clock = RateClock(now: 1_000, ticksPerSecond: 1_000_000_000)
    let timer = ACPIPMTimer(clock: clock, port: 0x608)
    clock.now += 2_000_000
    let before = timer.read(port: 0x608, size: 4)
    clock.now += 50_000_000
    timer.shiftTime(by: 50_000_000)
    XCTAssertEqual(timer.read(port: 0x608, size: 4), before, "paused time is not counted")
    // Restored onto a 3 GHz clock 900 s later: the count goes on from where it was.
    let other = RateClock(now: 2_700_000_000_000, ticksPerSecond: 3_000_000_000)
    let moved = ACPIPMTimer(clock: other, port: 0x608)
    moved.restore(timer.save())
    XCTAssertEqual(moved.read(port: 0x608, size: 4), before)
    XCTAssertEqual(moved.save(), timer.save())
  }

  func testFirmwareConfigItems() {
    let config = FirmwareConfig(cpuCount: 3, ramSize: 64 << 20)
    func item(_ key: UInt16, bytes: Int) -> [UInt8] {
      _ = config.write(port: 0x510, size: 2, value: UInt32(key))
      return (0..<bytes).map { _ in UInt8(config.read(port: 0x511, size: 1)) }
    }
    XCTAssertEqual(item(FirmwareConfig.Key.signature, bytes: 4), Array("QEMU".utf8))
    XCTAssertEqual(item(FirmwareConfig.Key.id, bytes: 4), [1, 0, 0, 0], "no DMA interface")
    XCTAssertEqual(item(FirmwareConfig.Key.cpuCount, bytes: 2), [3, 0])
    XCTAssertEqual(item(FirmwareConfig.Key.maximumCPUs, bytes: 2), [3, 0])
    XCTAssertEqual(item(FirmwareConfig.Key.ramSize, bytes: 8), [0, 0, 0, 4, 0, 0, 0, 0])
    XCTAssertEqual(
      item(FirmwareConfig.Key.signature, bytes: 6), Array("QEMU".utf8) + [0, 0],
      "past the item's end: zeros")
    XCTAssertEqual(item(0x1234, bytes: 2), [0, 0], "an unknown item reads zeros")
  }

  func testFirmwareConfigSelectorRewindsAndStateRestores() {
    let config = FirmwareConfig(cpuCount: 1, ramSize: 16 << 20)
    _ = config.write(port: 0x510, size: 2, value: 0)
    XCTAssertEqual(config.read(port: 0x511, size: 1), UInt32(UInt8(ascii: "Q")))
    XCTAssertEqual(config.read(port: 0x511, size: 2), 0x4D45, "two bytes at once: E, M")
    let saved = config.save()
    XCTAssertEqual(saved, FirmwareConfig.State(selector: 0, offset: 3))
    let other = FirmwareConfig(cpuCount: 1, ramSize: 16 << 20)
    other.restore(saved)
    XCTAssertEqual(other.read(port: 0x511, size: 1), UInt32(UInt8(ascii: "U")))
    _ = config.write(port: 0x511, size: 1, value: 0xFF)  // data writes are ignored
    XCTAssertEqual(config.read(port: 0x511, size: 1), UInt32(UInt8(ascii: "U")))
    _ = config.write(port: 0x510, size: 2, value: 0)
    XCTAssertEqual(config.read(port: 0x511, size: 1), UInt32(UInt8(ascii: "Q")), "rewound")
  }

  func testMultibootEntryState() {
    let state = InitialCPUState.multiboot(
      entry: 0x10_0060, magic: 0x2BAD_B002, information: 0x1_0100, gdtBase: 0x1_0000)
    XCTAssertEqual(state.rip, 0x10_0060)
    XCTAssertEqual(state.rax, 0x2BAD_B002)
    XCTAssertEqual(state.rbx, 0x1_0100)
    XCTAssertEqual(state.cr0 & 0x8000_0001, 1, "PE set, PG clear")
    XCTAssertEqual(state.rflags & 0x200, 0, "interrupts off")
    XCTAssertEqual(state.code.limit, 0xFFFF_FFFF)
    XCTAssertEqual(state.code.vmxAccessRights, 0xC09B, "32-bit code, 4 KiB granularity")
    XCTAssertEqual(state.data.vmxAccessRights, 0xC093)
    XCTAssertTrue(state.isProtectedMode)
    XCTAssertFalse(state.isLongMode)
  }
}
