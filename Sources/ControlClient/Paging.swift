import ControlProtocol

extension ControlClient {
  /// Every VM on the node, asking page after page (`listVMs(startIndex:)`).
  public func listAllVMs(patience: RetransmissionPolicy? = nil) throws(ControlClientError)
    -> [VMSummary]
  {
    var vms: [VMSummary] = []
    while true {
      guard
        case .vmList(let page) = try perform(
          .listVMs(startIndex: UInt16(clamping: vms.count)), patience: patience)
      else {
        throw .refused(ControlFailure(.internalError, text: "unexpected answer to list"))
      }
      vms += page.vms
      // An empty page ends it too, should the node's list shrink meanwhile.
      if page.vms.isEmpty || vms.count >= Int(page.total) { return vms }
    }
  }

  /// A VM's status and its whole saved state (the device models' and vCPUs' records),
  /// asking for the state piece after piece. An answer that stops short of the size the
  /// node announced, or whose size changes midway (the VM resumed and paused again), is an
  /// error that says so.
  public func statusWithState(of name: [UInt8]) throws(ControlClientError) -> (VMStatus, [UInt8]) {
    var state: [UInt8] = []
    var announced: UInt32? = nil
    while true {
      let request = Request.status(
        name: name, includeState: true, stateOffset: UInt32(clamping: state.count))
      guard case .vmStatus(let status) = try perform(request), let piece = status.state,
        piece.offset == UInt32(clamping: state.count)
      else {
        throw .refused(
          ControlFailure(.internalError, text: "unexpected answer to status with state"))
      }
      if let announced, announced != piece.totalSize {
        throw .refused(
          ControlFailure(
            .invalidState, text: "the VM's state changed while it was read: read it again"))
      }
      announced = piece.totalSize
      state += piece.bytes
      if state.count >= Int(piece.totalSize) {
        guard state.count == Int(piece.totalSize) else {
          throw .refused(
            ControlFailure(.malformed, text: "the node sent more state bytes than it announced"))
        }
        return (status, state)
      }
      if piece.bytes.isEmpty {
        throw .refused(
          ControlFailure(.malformed, text: "the node's state answer stopped short of its size"))
      }
    }
  }
}
