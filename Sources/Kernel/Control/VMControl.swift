import ControlProtocol

/// What the control server asks of the node's VMs: the VM manager, behind a protocol so the
/// server does not carry the backend's generic parameter. Called on CPU 0 between slices,
/// a safe point (the manager posts requests that each vCPU's CPU acts on between exits).
protocol VMControl: AnyObject {
  var vmCount: Int { get }
  /// VMs ended by a fault since boot (`StopReason.isFailure`), for the node's health.
  var failedVMCount: Int { get }
  /// The answer to a VM request (create, list, status, pause, unpause, destroy, console
  /// read); images named by a create come from `images`, and are consumed when it succeeds.
  func execute(_ request: Request, images: inout ImageStore) -> Response
  /// Ends every VM, then powers the node off (once the answer has gone out).
  func powerOff()
}
