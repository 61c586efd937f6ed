/// Reads physical memory: the kernel passes an identity-mapped reader, tests pass a fake.
///
/// ACPI tables may lie anywhere in physical memory (ACPI 6.4 §5.2.5–§5.2.8 store only
/// physical addresses), so the parser never dereferences an address itself.
public protocol ACPIMemory {
  /// The `count` bytes starting at `physical`, or nil when any of them is unreadable
  /// (outside RAM or the mapped range). The buffer must stay valid while the parser runs.
  func bytes(at physical: UInt64, count: Int) -> UnsafeRawBufferPointer?
}

extension ACPIMemory {
  /// `bytes(at:count:)` guarded against short answers and address wrap-around.
  func read(at physical: UInt64, count: Int) -> TableBytes? {
    guard count >= 0, physical <= UInt64.max - UInt64(count) else { return nil }
    guard let buffer = bytes(at: physical, count: count), buffer.count >= count else { return nil }
    return TableBytes(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
  }
}
