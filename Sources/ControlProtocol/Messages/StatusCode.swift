/// The first byte of every response: success, or what went wrong.
public enum StatusCode: UInt8, Equatable, CaseIterable {
  case ok = 0
  case malformed = 1
  case staleEpoch = 2
  case replayed = 3
  case unknownVM = 4
  case nameInUse = 5
  case invalidProfile = 6
  case insufficientMemory = 7
  case insufficientCPUs = 8
  case invalidState = 9
  case unknownImage = 10
  case unknownTransfer = 11
  case transferTooLarge = 12
  case tooManyTransfers = 13
  case chunkOutOfBounds = 14
  case transferIncomplete = 15
  case digestMismatch = 16
  case transferExpired = 17
  case busy = 18
  case notSupported = 19
  case internalError = 20
  /// A `<passthrough>` PCI function the node can't give (protocol version 5); the detail
  /// names it and says why.
  case deviceUnavailable = 21

  /// What it means, for a person reading the CLI's output.
  public var message: StaticString {
    switch self {
    case .ok: return "done"
    case .malformed: return "the node could not decode the request (a client of another version?)"
    case .staleEpoch: return "the node restarted since the client last spoke to it; retry"
    case .replayed:
      return
        "the node already executed a request with this sequence number and no longer has its answer"
    case .unknownVM: return "no VM of that name on the node"
    case .nameInUse: return "a VM or transfer of that name already exists on the node"
    case .invalidProfile: return "the VM profile is invalid"
    case .insufficientMemory: return "the node does not have that much free memory"
    case .insufficientCPUs: return "the node cannot place that many vCPUs as asked"
    case .invalidState: return "the VM is not in a state that allows this"
    case .unknownImage: return "no transferred image of that name on the node"
    case .unknownTransfer: return "no transfer with that id is open on the node"
    case .transferTooLarge: return "the image is larger than the node accepts"
    case .tooManyTransfers:
      return "the node has as many transfers open as it allows; finish or abort one"
    case .chunkOutOfBounds: return "a chunk lies outside the image or is not chunk-aligned"
    case .transferIncomplete:
      return "the transfer was committed with chunks missing; its data was freed"
    case .digestMismatch: return "the image's SHA-256 is not the one announced; its data was freed"
    case .transferExpired:
      return "the transfer was cut off (no chunk for too long); its data was freed"
    case .busy: return "the node is busy; retry later"
    case .notSupported: return "the node does not support this request"
    case .internalError: return "the node failed to carry out the request"
    case .deviceUnavailable: return "the node cannot give that PCI function to the VM"
    }
  }
}

/// A refused or failed request: the code, the node's own words, and for `replayed` and
/// `staleEpoch` the lowest sequence number the node would accept from this client now.
public struct ControlFailure: Equatable, Error {
  public var code: StatusCode
  public var detail: [UInt8]
  public var nextSequence: UInt64

  public init(_ code: StatusCode, detail: [UInt8] = [], nextSequence: UInt64 = 0) {
    self.code = code
    self.detail = detail
    self.nextSequence = nextSequence
  }

  public init(_ code: StatusCode, text: StaticString) {
    self.init(code, detail: text.bytes)
  }

  func encode(into writer: inout WireWriter) throws(WireError) {
    writer.u8(code.rawValue)
    try writer.bytes8(detail, maximum: ProtocolLimits.maximumErrorDetail)
    writer.u64(nextSequence)
  }

  /// After the status byte.
  static func decode(code: StatusCode, from reader: inout WireReader) throws(WireError)
    -> ControlFailure
  {
    let detail = try reader.bytes8(maximum: ProtocolLimits.maximumErrorDetail)
    return ControlFailure(code, detail: detail, nextSequence: try reader.u64())
  }
}
