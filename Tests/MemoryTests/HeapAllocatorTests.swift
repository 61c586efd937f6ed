import XCTest

@testable import Memory

final class HeapAllocatorTests: XCTestCase {
  private var arena: UnsafeMutableRawPointer!
  private let arenaSize = 1 << 20

  override func setUp() {
    arena = UnsafeMutableRawPointer.allocate(byteCount: arenaSize, alignment: 4096)
  }

  override func tearDown() { arena.deallocate() }

  func testSingleAllocationAndFree() throws {
    var heap = HeapAllocator(arena: arena, size: arenaSize)
    let initial = heap.statistics
    XCTAssertEqual(initial.arenaBytes, arenaSize)
    XCTAssertEqual(initial.largestFreeBlock, arenaSize)

    let pointer = try XCTUnwrap(heap.allocate(size: 100, alignment: 8))
    XCTAssertEqual(Int(bitPattern: pointer) % 16, 0)
    XCTAssertTrue(heap.validate())
    var stats = heap.statistics
    XCTAssertEqual(stats.bytesInUse, 100)
    XCTAssertEqual(stats.allocations, 1)
    XCTAssertLessThan(stats.largestFreeBlock, arenaSize)

    heap.free(pointer)
    stats = heap.statistics
    XCTAssertEqual(stats.bytesInUse, 0)
    XCTAssertEqual(stats.peakBytesInUse, 100)
    XCTAssertEqual(stats.frees, 1)
    XCTAssertEqual(stats.largestFreeBlock, arenaSize)
    XCTAssertTrue(heap.validate())
  }

  func testHonoursLargeAlignments() throws {
    var heap = HeapAllocator(arena: arena, size: arenaSize)
    var pointers: [UnsafeMutableRawPointer] = []
    for alignment in [1, 2, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 4096, 64] {
      let pointer = try XCTUnwrap(heap.allocate(size: 24, alignment: alignment))
      XCTAssertEqual(Int(bitPattern: pointer) % max(alignment, 16), 0, "alignment \(alignment)")
      pointers.append(pointer)
      XCTAssertTrue(heap.validate())
    }
    for pointer in pointers.reversed() { heap.free(pointer) }
    XCTAssertTrue(heap.validate())
    XCTAssertEqual(heap.statistics.largestFreeBlock, arenaSize)
  }

  func testExhaustionReturnsNilAndCountsFailures() {
    var heap = HeapAllocator(arena: arena, size: 4096)
    XCTAssertNil(heap.allocate(size: 4096, alignment: 16))
    var count = 0
    while heap.allocate(size: 1000, alignment: 16) != nil { count += 1 }
    XCTAssertEqual(count, 4)  // Each block is 1024 bytes with its tags.
    let stats = heap.statistics
    XCTAssertEqual(stats.failedAllocations, 2)
    XCTAssertEqual(stats.allocations, 4)
    XCTAssertEqual(stats.bytesInUse, 4000)
    XCTAssertEqual(stats.largestFreeBlock, 0)
    XCTAssertTrue(heap.validate())
  }

  func testRejectsInvalidRequests() {
    var heap = HeapAllocator(arena: arena, size: arenaSize)
    XCTAssertNil(heap.allocate(size: 16, alignment: 3))
    XCTAssertNil(heap.allocate(size: -1, alignment: 16))
    XCTAssertNil(heap.allocate(size: .max, alignment: 16))
    XCTAssertEqual(heap.statistics.failedAllocations, 3)
    XCTAssertEqual(heap.statistics.allocations, 0)
  }

  func testZeroSizeAllocationsAreDistinct() throws {
    var heap = HeapAllocator(arena: arena, size: arenaSize)
    let first = try XCTUnwrap(heap.allocate(size: 0, alignment: 16))
    let second = try XCTUnwrap(heap.allocate(size: 0, alignment: 16))
    XCTAssertNotEqual(first, second)
    XCTAssertEqual(heap.statistics.bytesInUse, 0)
  }

  func testUnalignedArenaIsTrimmed() throws {
    var heap = HeapAllocator(arena: arena + 3, size: 1000)
    XCTAssertEqual(heap.statistics.arenaBytes, 992 - 16)  // [arena+16, arena+992).
    let pointer = try XCTUnwrap(heap.allocate(size: 10, alignment: 16))
    XCTAssertGreaterThanOrEqual(pointer, arena + 16)
    XCTAssertTrue(heap.validate())
  }

  func testTinyArenaHoldsNothing() {
    var heap = HeapAllocator(arena: arena, size: 32)
    XCTAssertEqual(heap.statistics.arenaBytes, 0)
    XCTAssertNil(heap.allocate(size: 1, alignment: 16))
    XCTAssertTrue(heap.validate())
  }

  func testValidateDetectsCorruption() throws {
    var heap = HeapAllocator(arena: arena, size: arenaSize)
    let pointer = try XCTUnwrap(heap.allocate(size: 64, alignment: 16))
    XCTAssertTrue(heap.validate())
    // Overrun the block's footer and the next block's header.
    (pointer + 64).initializeMemory(as: UInt8.self, repeating: 0xFF, count: 32)
    XCTAssertFalse(heap.validate())
  }

  func testRandomizedWorkloadCoalescesBackToOneBlock() {
    var heap = HeapAllocator(arena: arena, size: arenaSize)
    var random = SplitMix64(state: 0x5EED_1234)
    var live: [(pointer: UnsafeMutableRawPointer, size: Int, tag: UInt8)] = []
    var expected = HeapStatistics(arenaBytes: arenaSize)
    let sizes = [1, 8, 16, 24, 48, 100, 255, 512, 1000, 4096, 9000]
    let alignments = [1, 16, 32, 64, 256, 4096]

    for step in 0..<4000 {
      if live.isEmpty || random.next(below: 100) < 55 {
        let size = sizes[random.next(below: sizes.count)] + random.next(below: 8)
        let alignment = alignments[random.next(below: alignments.count)]
        if let pointer = heap.allocate(size: size, alignment: alignment) {
          XCTAssertEqual(Int(bitPattern: pointer) % max(alignment, 16), 0)
          let tag = UInt8(truncatingIfNeeded: step)
          pointer.initializeMemory(as: UInt8.self, repeating: tag, count: size)
          live.append((pointer, size, tag))
          expected.allocations += 1
          expected.bytesInUse += size
          expected.peakBytesInUse = max(expected.peakBytesInUse, expected.bytesInUse)
        } else {
          expected.failedAllocations += 1
        }
      } else {
        let victim = live.remove(at: random.next(below: live.count))
        let bytes = UnsafeRawBufferPointer(start: victim.pointer, count: victim.size)
        XCTAssertTrue(bytes.allSatisfy { $0 == victim.tag }, "payload overwritten")
        heap.free(victim.pointer)
        expected.frees += 1
        expected.bytesInUse -= victim.size
      }
      if step % 97 == 0 { XCTAssertTrue(heap.validate(), "step \(step)") }
    }

    while !live.isEmpty {
      heap.free(live.remove(at: random.next(below: live.count)).pointer)
      expected.frees += 1
    }
    expected.bytesInUse = 0
    expected.largestFreeBlock = arenaSize
    XCTAssertTrue(heap.validate())
    XCTAssertEqual(heap.statistics, expected)
    XCTAssertGreaterThan(expected.allocations, 1000)
  }
}
