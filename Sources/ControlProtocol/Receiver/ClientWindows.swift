/// The replay windows of the clients a node has heard from, at most `capacity` of them.
///
/// When full, the least recently used client's window is dropped and its highest sequence
/// number becomes the floor under which no client the node does not know is accepted. A
/// forgotten client's old requests therefore stay refused; clients start their sequence
/// numbers from the time (microseconds since 1970), so a new one is above the floor.
public struct ClientWindows {
  private struct Entry {
    var clientID: UInt32
    var window: ReplayWindow
    var lastUse: UInt64
  }

  public let capacity: Int
  private var entries: [Entry] = []
  private var clock: UInt64 = 0
  /// Every sequence number at or below this is refused from a client without a window.
  public private(set) var floor: UInt64 = 0

  public init(capacity: Int) {
    precondition(capacity > 0, "at least one client window")
    self.capacity = capacity
  }

  public var count: Int { entries.count }

  public func verdict(clientID: UInt32, sequence: UInt64) -> ReplayWindow.Verdict {
    window(of: clientID).verdict(for: sequence)
  }

  /// The lowest sequence number the node would take from `clientID` as new.
  public func nextSequence(for clientID: UInt32) -> UInt64 {
    window(of: clientID).highest &+ 1
  }

  private func window(of clientID: UInt32) -> ReplayWindow {
    for entry in entries where entry.clientID == clientID { return entry.window }
    return ReplayWindow(floor: floor)
  }

  public mutating func record(clientID: UInt32, sequence: UInt64) {
    clock += 1
    for index in entries.indices where entries[index].clientID == clientID {
      entries[index].window.record(sequence)
      entries[index].lastUse = clock
      return
    }
    if entries.count == capacity {
      var oldest = 0
      for index in entries.indices where entries[index].lastUse < entries[oldest].lastUse {
        oldest = index
      }
      floor = max(floor, entries[oldest].window.highest)
      entries.remove(at: oldest)
    }
    var window = ReplayWindow(floor: floor)
    window.record(sequence)
    entries.append(Entry(clientID: clientID, window: window, lastUse: clock))
  }
}
