/// Raw access to the boundary tags inside the heap arena. Every heap block is
///
///     [size|allocated : 8][requested bytes : 8][payload ...][size|allocated : 8]
///
/// and a free block keeps its free-list links in the first 16 payload bytes.
/// The footer lets `free` find the previous block in O(1) to coalesce.
/// This file and `HeapAllocator.swift` are the only users of raw heap memory.
enum HeapBlock {
  static let headerSize: UInt = 16
  static let footerSize: UInt = 8
  /// Payloads start right after a 16-byte header in 16-byte aligned blocks.
  static let granularity: UInt = 16
  /// Header, two links and footer, rounded to the granularity.
  static let minimumSize: UInt = 48
  static let allocatedFlag: UInt = 1

  static func load(_ address: UInt) -> UInt {
    UnsafeRawPointer(bitPattern: address)!.load(as: UInt.self)
  }

  static func store(_ value: UInt, at address: UInt) {
    UnsafeMutableRawPointer(bitPattern: address)!.storeBytes(of: value, as: UInt.self)
  }

  static func size(_ block: UInt) -> UInt { load(block) & ~(granularity - 1) }
  static func isAllocated(_ block: UInt) -> Bool { load(block) & allocatedFlag != 0 }
  static func footer(_ block: UInt) -> UInt { load(block + size(block) - footerSize) }

  /// Writes matching header and footer tags.
  static func setTags(_ block: UInt, size: UInt, allocated: Bool) {
    let tag = size | (allocated ? allocatedFlag : 0)
    store(tag, at: block)
    store(tag, at: block + size - footerSize)
  }

  static func requestedBytes(_ block: UInt) -> UInt { load(block + 8) }
  static func setRequestedBytes(_ block: UInt, _ bytes: UInt) { store(bytes, at: block + 8) }

  // Free-list links; 0 means none.
  static func next(_ block: UInt) -> UInt { load(block + 16) }
  static func previous(_ block: UInt) -> UInt { load(block + 24) }
  static func setNext(_ block: UInt, _ next: UInt) { store(next, at: block + 16) }
  static func setPrevious(_ block: UInt, _ previous: UInt) { store(previous, at: block + 24) }

  static func alignUp(_ value: UInt, _ alignment: UInt) -> UInt? {
    let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
    return overflow ? nil : sum & ~(alignment - 1)
  }
}
