// fuzz-modules: NetworkProtocols
// What arrives on the node's management NIC: any bytes anyone on its Ethernet segment sends.
//
// Checks, beyond not trapping: every frame is either handled or dropped with a reason and
// counted (received = handled + dropped), every frame the stack sends in answer is a
// well-formed Ethernet II frame of at most 1514 bytes, and a DHCP client fed the same bytes
// as a UDP payload changes state only to one it can be in.
//
// Input: one received frame (first byte: which of two stacks, configured or waiting for DHCP).
import NetworkProtocols

let mac = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
nonisolated(unsafe) var configured = NetworkStack(
  mac: mac,
  interface: InterfaceAddress(
    address: IPv4Address(10, 0, 2, 15), prefix: 24, gateway: IPv4Address(10, 0, 2, 2)))
nonisolated(unsafe) var unconfigured = NetworkStack(mac: mac, interface: nil)
nonisolated(unsafe) var handled: [UInt64] = [0, 0]
nonisolated(unsafe) var clock: UInt64 = 0
nonisolated(unsafe) var bound = false

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  if !bound {
    configured.bind(port: 7)
    unconfigured.bind(port: DHCPMessage.clientPort)
    bound = true
  }
  guard size > 0 else { return 0 }
  let frame = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
  clock &+= 700
  let which = Int(data[0] & 1)
  var stack = which == 0 ? configured : unconfigured
  let result = stack.receive(frame, now: clock)
  if result.dropped == nil { handled[which] &+= 1 }
  precondition(
    stack.counters.framesReceived == handled[which] + stack.counters.totalDropped,
    "a frame was neither handled nor counted")
  for sent in result.transmit + stack.tick(now: clock) {
    precondition(sent.count >= 60 && sent.count <= 1514, "an answer of a bad length")
    guard case .success = EthernetFrame.parse(sent) else {
      preconditionFailure("an answer that is not Ethernet II")
    }
  }
  if which == 0 { configured = stack } else { unconfigured = stack }
  var client = DHCPClient(mac: mac, transaction: 1)
  _ = client.start(now: 0)
  _ = client.receive(frame, now: 1)
  _ = client.tick(now: 100_000)
  return 0
}
