import HypervisorCore

/// A typed view of one VMCB page (APM Vol 2 Appendix B). The kernel points it at an
/// identity-mapped frame; tests at a host buffer, to decode synthetic exits.
public struct VMCB {
  public let base: UnsafeMutableRawPointer

  public init(base: UnsafeMutableRawPointer) { self.base = base }

  @inline(__always)
  public subscript<T: FixedWidthInteger>(offset: Int, as type: T.Type) -> T {
    get { base.load(fromByteOffset: offset, as: T.self) }
    nonmutating set { base.storeBytes(of: newValue, toByteOffset: offset, as: T.self) }
  }

  @inline(__always)
  public func u64(_ offset: Int) -> UInt64 { self[offset, as: UInt64.self] }
  @inline(__always)
  public func set(_ offset: Int, _ value: UInt64) { self[offset, as: UInt64.self] = value }

  public func clear() {
    base.initializeMemory(as: UInt8.self, repeating: 0, count: VMCBOffset.size)
  }

  /// Writes one segment register of the state save area.
  public func setSegment(
    _ offset: Int, selector: UInt16, attributes: UInt16, limit: UInt32, base segmentBase: UInt64
  ) {
    self[offset + VMCBSegmentOffset.selector, as: UInt16.self] = selector
    self[offset + VMCBSegmentOffset.attributes, as: UInt16.self] = attributes
    self[offset + VMCBSegmentOffset.limit, as: UInt32.self] = limit
    self[offset + VMCBSegmentOffset.base, as: UInt64.self] = segmentBase
  }

  public func segmentAttributes(_ offset: Int) -> UInt16 {
    self[offset + VMCBSegmentOffset.attributes, as: UInt16.self]
  }
  public func segmentBase(_ offset: Int) -> UInt64 {
    self[offset + VMCBSegmentOffset.base, as: UInt64.self]
  }
}
