/// Every bound of the protocol, in one place: encoder and decoder check the same numbers, so
/// no length in a datagram can make either side allocate more than these.
public enum ProtocolLimits {
  /// The largest UDP payload that crosses an Ethernet link unfragmented: MTU 1500 less the
  /// IPv4 header (20, RFC 791 §3.1) and the UDP header (8, RFC 768).
  public static let maximumDatagram = 1472
  /// Header (32) + payload + tag (32) stays within `maximumDatagram`.
  public static let maximumPayload = maximumDatagram - DatagramHeader.size - HMACSHA256.tagSize
  /// VM names: as the boot-time profile (`vm name=`, VMProfile.maximumNameLength).
  public static let maximumNameLength = 31
  /// Names of transferred images (kernel, initramfs, disk).
  public static let maximumImageNameLength = 63
  /// A guest kernel's command line.
  public static let maximumCommandLineLength = 1024
  public static let maximumVCPUs = 64
  /// Guest NICs of a VM; an I/O status answer carries all of them.
  public static let maximumNICs = 8
  /// Host PCI functions one VM owns (`<passthrough>`, protocol version 5).
  public static let maximumPassthroughFunctions = 4
  /// Bytes of data in one transfer chunk.
  public static let maximumChunkSize = 1024
  /// Bytes of a VM's disk in one `diskRead` answer (one transfer chunk).
  public static let maximumDiskReadBytes = 1024
  /// Bytes of guest memory in one `memoryRead` answer or `memoryWrite` request.
  public static let maximumMemoryBytes = 1024
  /// Bytes of a dirty-page bitmap in one `dirtyLog` answer: 8192 pages, 32 MiB of guest.
  public static let maximumDirtyBitmapBytes = 1024
  /// Bytes of console output in one response.
  public static let maximumConsoleBytes = 1200
  /// Bytes of VM state (the saved device and vCPU records) in one status response.
  public static let maximumStateBytes = 256
  /// VMs in one list response (a node with more answers in pages: `listVMs(from:)`).
  public static let maximumListedVMs = 24
  /// Per-reason exit counts and refused MSRs in one status response.
  public static let maximumExitReasons = 24
  public static let maximumExitReasonNameLength = 23
  public static let maximumRefusedMSRs = 12
  /// The text a node adds to an error code.
  public static let maximumErrorDetail = 200
  /// Reasons a node gives for being degraded, in one node-info answer.
  public static let maximumHealthProblems = 8
  /// Health-history entries in one node-info answer (19 bytes each).
  public static let maximumHealthHistory = 16
  /// The node's software version string.
  public static let maximumVersionLength = 47
}
