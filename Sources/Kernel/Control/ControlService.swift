import BootProtocols
import ControlProtocol
import HypervisorCore

/// Starts the control server when the command line gives a cluster key and the node has a
/// network: `cluster_key=<64 hex digits>` (32 bytes, as `peregrine node up` generates).
/// The key itself is never printed (BootSequence redacts it from the command-line log).
enum ControlService {
  /// Which backend `nodes` reports.
  static func kind<Backend: VirtualizationBackend>(of backend: Backend.Type) -> NodeInfo.Backend {
    Backend.name.bytes == SVMBackend.name.bytes ? .svm : .vmx
  }

  static func start(
    commandLine line: [UInt8], backend: NodeInfo.Backend, topology: CPUTopology
  ) -> ControlServer? {
    guard let text = KernelCommandLine.value(of: "cluster_key", in: line) else {
      if ManagementNetwork.node != nil {
        Log.info("control: no cluster_key= on the command line: the node takes no control requests")
      }
      return nil
    }
    let key: [UInt8]
    switch KernelCommandLine.hexKey(text) {
    case .success(let bytes): key = bytes
    case .failure(let problem):
      Log.begin(.error)
      Console.write("control: cluster_key= refused: ")
      switch problem {
      case .wrongLength(let count):
        Console.write("it has ")
        Console.write(decimal: UInt64(count))
        Console.write(" characters, not 64 hex digits (32 bytes)")
      case .notHex:
        Console.write("it holds a character that is not a hex digit")
      }
      Console.write("; the node takes no control requests")
      Log.end()
      return nil
    }
    guard let node = ManagementNetwork.node else {
      Log.error("control: cluster_key= given, but the node has no network (ip= and a NIC)")
      return nil
    }
    let (epoch, usedRDRAND) = BootEpoch.pick()
    let server = ControlServer(key: key, epoch: epoch, backend: backend, topology: topology)
    guard node.bind(port: ControlServer.port, server) else {
      Log.error("control: UDP port 7100 is taken")
      return nil
    }
    if Log.begin(.info) {
      Console.write("control: listening on udp ")
      Console.write(decimal: UInt64(ControlServer.port))
      Console.write(", boot epoch from the TSC")
      Console.write(usedRDRAND ? " and RDRAND" : " (no RDRAND)")
      Log.end()
    }
    return server
  }
}
