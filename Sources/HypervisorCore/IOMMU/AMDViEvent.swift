/// A 128-bit AMD-Vi event-log entry (AMD IOMMU spec #48882 rev 3.x §2.5, "Event Logging"):
/// DeviceID in bits 15:0, EventCode in bits 63:60, the address in the second quadword.
public struct AMDViEvent: Equatable, Sendable {
  public enum Code: UInt8, Sendable {
    case illegalDeviceTableEntry = 0x1
    case ioPageFault = 0x2
    case deviceTableHardwareError = 0x3
    case pageTableHardwareError = 0x4
    case illegalCommand = 0x5
    case commandHardwareError = 0x6
    case iotlbInvalidationTimeout = 0x7
    case invalidDeviceRequest = 0x8
    case invalidPeripheralPageRequest = 0x9
    case eventCounterZero = 0xA
  }

  public var code: Code
  public var device: UInt16
  /// IO_PAGE_FAULT's DomainID (bits 47:32); other events put other fields there.
  public var domain: UInt16
  /// IO_PAGE_FAULT flags (§2.5.3, bits 56:48): TR, RZ, PE, RW, PR, I, US, NX, GN.
  public var flags: UInt16
  public var address: UInt64

  /// Nil for an all-zero entry (not written yet) or an event code the spec does not define.
  public init?(low: UInt64, high: UInt64) {
    guard low != 0 || high != 0, let code = Code(rawValue: UInt8(low >> 60)) else { return nil }
    self.code = code
    device = UInt16(truncatingIfNeeded: low)
    domain = UInt16(truncatingIfNeeded: low >> 32)
    flags = UInt16(low >> 48 & 0x1FF)
    address = high
  }

  /// RW (bit 53): the faulting access was a write.
  public var isWrite: Bool { flags & 1 << 5 != 0 }
  /// PR (bit 52): the page was present (a permission fault), else not present.
  public var pagePresent: Bool { flags & 1 << 4 != 0 }
  /// I (bit 51): the request was an interrupt, not memory.
  public var isInterrupt: Bool { flags & 1 << 3 != 0 }

  public var message: StaticString {
    switch code {
    case .illegalDeviceTableEntry: "illegal device table entry"
    case .ioPageFault: pagePresent ? "page present without the permission" : "page not present"
    case .deviceTableHardwareError: "device table read failed"
    case .pageTableHardwareError: "page table read failed"
    case .illegalCommand: "illegal command"
    case .commandHardwareError: "command buffer read failed"
    case .iotlbInvalidationTimeout: "IOTLB invalidation timed out"
    case .invalidDeviceRequest: "invalid device request"
    case .invalidPeripheralPageRequest: "invalid PPR request"
    case .eventCounterZero: "event counter zero"
    }
  }
}
