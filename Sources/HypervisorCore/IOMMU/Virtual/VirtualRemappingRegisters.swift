/// The registers of a guest's virtual VT-d unit (VT-d spec rev 4.1 §11.4) as a plain value:
/// what the guest wrote, what the unit latched (root and interrupt table pointers, at SRTP
/// and SIRTP), the status bits, the invalidation queue's head and the one fault record.
public struct VirtualRemappingRegisters: Equatable {
  /// GSTS (§11.4.4.2): TES, RTPS, QIES, IRES, IRTPS, CFIS.
  public var globalStatus: UInt32 = 0
  /// RTADDR as written, and the root table the unit uses (latched by SRTP).
  public var rootTableAddress: UInt64 = 0
  public var rootTable: UInt64 = 0
  /// CCMD (§11.4.6.1): ICC (63) reads back clear once done, CAIG (60:59) = CIRG.
  public var contextCommand: UInt64 = 0
  /// FSTS (§11.4.7.1): PFO (0), PPF (1), IQE (4), FRI (15:8).
  public var faultStatus: UInt32 = 0
  /// FECTL (§11.4.7.2): IM (31), set at reset; IP (30).
  public var faultEventControl: UInt32 = 1 << 31
  public var faultEventData: UInt32 = 0
  public var faultEventAddress: UInt32 = 0
  public var faultEventUpperAddress: UInt32 = 0
  /// IQH, IQT (§11.4.9.1-2): descriptor index in 18:4 (128-bit descriptors).
  public var queueHead: UInt64 = 0
  public var queueTail: UInt64 = 0
  /// IQA (§11.4.9.3): base (63:12), DW (11), QS (2:0).
  public var queueAddress: UInt64 = 0
  /// ICS (§11.4.9.4): IWC (0).
  public var completionStatus: UInt32 = 0
  /// IECTL (§11.4.9.5): IM (31), set at reset; IP (30).
  public var invalidationEventControl: UInt32 = 1 << 31
  public var invalidationEventData: UInt32 = 0
  public var invalidationEventAddress: UInt32 = 0
  public var invalidationEventUpperAddress: UInt32 = 0
  /// IRTA as written, and the table the unit uses (latched by SIRTP).
  public var interruptTableAddress: UInt64 = 0
  public var interruptTable: UInt64 = 0
  /// IVA and IOTLB_REG (§11.4.8): IVT (63) reads back clear, IAIG (58:57) = IIRG.
  public var invalidateAddress: UInt64 = 0
  public var iotlbCommand: UInt64 = 0
  /// The fault record (§11.4.14): FI in the low half; SID, FR, T, F in the high half.
  public var faultRecordLow: UInt64 = 0
  public var faultRecordHigh: UInt64 = 0

  public init() {}
}

/// FSTS, FECTL/IECTL and ICS bits the unit sets (§11.4.7, §11.4.9).
enum VirtualRemappingBit {
  static let invalidationQueueError: UInt32 = 1 << 4  // FSTS.IQE
  static let interruptMask: UInt32 = 1 << 31  // FECTL.IM, IECTL.IM
  static let interruptPending: UInt32 = 1 << 30  // FECTL.IP, IECTL.IP
  static let waitComplete: UInt32 = 1  // ICS.IWC
}
