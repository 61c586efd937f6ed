import NetworkProtocols

/// What the node's network needs from a NIC driver: its MAC, frames in and out, and
/// whether it interrupts (MSI-X to CPU 0) or must be polled.
protocol NetworkInterfaceCard: AnyObject {
  var mac: MACAddress { get }
  var usesInterrupts: Bool { get }
  /// "virtio-net" or "e1000", for the console.
  var model: StaticString { get }
  /// Frames not sent because the transmit ring was full.
  var transmitFull: UInt64 { get }
  /// Whether received frames wait to be taken.
  var hasReceived: Bool { get }
  /// Hands up to `limit` received frames to `body`; returns how many.
  func receiveFrames(limit: Int, _ body: ([UInt8]) -> Void) -> Int
  /// Queues one frame; false when it could not be.
  @discardableResult func send(_ frame: [UInt8]) -> Bool
}
