import ControlProtocol

extension ControlClient {
  /// Every VM on the node, asking page after page (`listVMs(startIndex:)`).
  public func listAllVMs() throws(ControlClientError) -> [VMSummary] {
    var vms: [VMSummary] = []
    while true {
      guard case .vmList(let page) = try perform(.listVMs(startIndex: UInt16(clamping: vms.count)))
      else {
        throw .refused(ControlFailure(.internalError, text: "unexpected answer to list"))
      }
      vms += page.vms
      // An empty page ends it too, should the node's list shrink meanwhile.
      if page.vms.isEmpty || vms.count >= Int(page.total) { return vms }
    }
  }

  /// A VM's status and its whole saved state (the device models' and vCPUs' records),
  /// asking for the state piece after piece.
  public func statusWithState(of name: [UInt8]) throws(ControlClientError) -> (VMStatus, [UInt8]) {
    var state: [UInt8] = []
    while true {
      let request = Request.status(
        name: name, includeState: true, stateOffset: UInt32(clamping: state.count))
      guard case .vmStatus(let status) = try perform(request), let piece = status.state,
        piece.offset == UInt32(clamping: state.count)
      else {
        throw .refused(
          ControlFailure(.internalError, text: "unexpected answer to status with state"))
      }
      state += piece.bytes
      if piece.bytes.isEmpty || state.count >= Int(piece.totalSize) { return (status, state) }
    }
  }
}
