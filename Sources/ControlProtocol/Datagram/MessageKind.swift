/// What a datagram asks for (a request) or answers (a response: the request's kind with
/// `DatagramFlags.response` set).
public enum MessageKind: UInt8, Equatable, CaseIterable {
  case nodeInfo = 1
  case createVM = 2
  case listVMs = 3
  case status = 4
  case pause = 5
  case unpause = 6
  case destroy = 7
  case consoleRead = 8
  case powerOff = 9
  case transferBegin = 10
  case transferChunk = 11
  case transferEnd = 12
  case transferAbort = 13
  case diskRead = 14
  case diskDigest = 15
  case memoryRead = 16
  case memoryWrite = 17
  case dirtyLog = 18
  case restoreState = 19
  case ioStatus = 20
}

/// The header's flag bits; the others are reserved and must be zero.
public enum DatagramFlags {
  /// Set on every response, clear on every request: a response sent back to the node (or a
  /// request to a client) is refused, so one side's datagrams never pass for the other's.
  public static let response: UInt8 = 1 << 0
  public static let defined: UInt8 = response
}
