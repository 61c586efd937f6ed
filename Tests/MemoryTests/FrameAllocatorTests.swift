import XCTest

@testable import Memory

final class FrameAllocatorTests: XCTestCase {
  private func region(_ start: UInt64, _ end: UInt64) -> PhysicalRegion {
    PhysicalRegion(start: start, end: end)
  }

  func testNeverHandsOutReservedMemory() {
    var allocator = FrameAllocator(
      usable: [region(0, 0x9_F000), region(0x10_0000, 0x80_0000)],
      reserved: [region(0, 0x10_0000), region(0x10_0000, 0x20_0000), region(0x40_0000, 0x40_1000)])
    XCTAssertEqual(allocator.totalFrames, (0x80_0000 - 0x20_0000) / 4096 - 1)
    XCTAssertFalse(allocator.isFree(0x40_0000))
    var handedOut = 0
    while let frame = allocator.allocate() {
      XCTAssertGreaterThanOrEqual(frame, 0x20_0000)
      XCTAssertNotEqual(frame, 0x40_0000)
      XCTAssertLessThan(frame, 0x80_0000)
      handedOut += 1
    }
    XCTAssertEqual(handedOut, allocator.totalFrames)
    XCTAssertEqual(allocator.freeFrames, 0)
  }

  func testFirstFitFromLowAddresses() {
    var allocator = FrameAllocator(
      usable: [region(0x50_0000, 0x60_0000), region(0x10_0000, 0x20_0000)], reserved: [])
    XCTAssertEqual(allocator.allocate(), 0x10_0000)
    XCTAssertEqual(allocator.allocate(frames: 2), 0x10_1000)
    XCTAssertEqual(allocator.allocate(), 0x10_3000)
  }

  func testAlignedRunOf512Frames() {
    var allocator = FrameAllocator(usable: [region(0x1000, 0x100_0000)], reserved: [])
    let run = allocator.allocate(frames: 512, alignment: 0x20_0000)
    XCTAssertEqual(run, 0x20_0000)
    XCTAssertEqual(
      allocator.freeRanges, [region(0x1000, 0x20_0000), region(0x40_0000, 0x100_0000)])
    XCTAssertEqual(allocator.freeFrames, allocator.totalFrames - 512)
    XCTAssertNil(allocator.allocate(frames: 512, alignment: 0x100_0000))
  }

  func testAllocationBelowLimit() {
    var allocator = FrameAllocator(
      usable: [region(0x8000, 0x1_0000), region(0x10_0000, 0x20_0000)], reserved: [])
    XCTAssertNil(allocator.allocate(frames: 9, alignment: 4096, below: 0x10_0000))
    XCTAssertEqual(allocator.allocate(frames: 8, alignment: 4096, below: 0x10_0000), 0x8000)
    XCTAssertNil(allocator.allocate(frames: 1, alignment: 4096, below: 0x10_0000))
    XCTAssertEqual(allocator.allocate(frames: 1, alignment: 4096, below: 0x1_0000_0000), 0x10_0000)
  }

  func testExhaustionReturnsNil() {
    var allocator = FrameAllocator(usable: [region(0x1000, 0x5000)], reserved: [])
    XCTAssertNil(allocator.allocate(frames: 5))
    XCTAssertEqual(allocator.allocate(frames: 4), 0x1000)
    XCTAssertNil(allocator.allocate())
    XCTAssertEqual(allocator.freeFrames, 0)
    XCTAssertEqual(allocator.freeRanges, [])
    XCTAssertNil(allocator.allocate(frames: 0))
  }

  func testFreeCoalescesSoALargeRunFitsAgain() {
    var allocator = FrameAllocator(usable: [region(0x10_0000, 0x10_8000)], reserved: [])
    let frames = (0..<8).compactMap { _ in allocator.allocate() }
    XCTAssertEqual(frames.count, 8)
    XCTAssertNil(allocator.allocate())
    for index in [3, 1, 7, 0, 5, 2, 6] { allocator.free(frames[index]) }
    XCTAssertFalse(allocator.isFree(frames[4]))
    XCTAssertNil(allocator.allocate(frames: 5))  // Frame 4 splits the free memory.
    allocator.free(frames[4])
    XCTAssertEqual(allocator.freeRanges, [region(0x10_0000, 0x10_8000)])
    XCTAssertEqual(allocator.freeFrames, 8)
    XCTAssertEqual(allocator.allocate(frames: 8), 0x10_0000)
  }

  func testFreeMultipleFramesJoinsBothNeighbours() {
    var allocator = FrameAllocator(usable: [region(0x1000, 0x9000)], reserved: [])
    XCTAssertEqual(allocator.allocate(frames: 8), 0x1000)
    allocator.free(0x1000, frames: 2)
    allocator.free(0x7000, frames: 2)
    XCTAssertEqual(allocator.freeRanges, [region(0x1000, 0x3000), region(0x7000, 0x9000)])
    allocator.free(0x3000, frames: 4)
    XCTAssertEqual(allocator.freeRanges, [region(0x1000, 0x9000)])
    XCTAssertTrue(allocator.isFree(0x4000))
  }

  func testUnalignedUsableRegionsAreTrimmedInward() {
    let allocator = FrameAllocator(
      usable: [region(0x1234, 0x5678), region(0x9001, 0x9FFF), region(0xA000, 0xA000)], reserved: []
    )
    XCTAssertEqual(allocator.freeRanges, [region(0x2000, 0x5000)])
    XCTAssertEqual(allocator.totalFrames, 3)
  }

  func testOverlappingUsableRegionsAreMerged() {
    let allocator = FrameAllocator(
      usable: [region(0x4000, 0x8000), region(0x1000, 0x5000), region(0x8000, 0x9000)], reserved: []
    )
    XCTAssertEqual(allocator.freeRanges, [region(0x1000, 0x9000)])
    XCTAssertEqual(allocator.totalFrames, 8)
  }

  func testOverlappingReservedRangesAreWidenedAndSubtracted() {
    let allocator = FrameAllocator(
      usable: [region(0x1000, 0x1_0000)],
      reserved: [region(0x3000, 0x5800), region(0x5000, 0x7000), region(0x6FFF, 0x7001)])
    XCTAssertEqual(allocator.freeRanges, [region(0x1000, 0x3000), region(0x8000, 0x1_0000)])
    XCTAssertEqual(allocator.totalFrames, 10)
    XCTAssertFalse(allocator.isFree(0x7000))
    XCTAssertTrue(allocator.isFree(0x8FFF))
  }
}
