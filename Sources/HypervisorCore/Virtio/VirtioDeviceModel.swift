/// A virtio device type (virtio 1.1 §5: net, block, entropy...) behind a transport. The
/// transport (virtio over PCI, §4.1) owns the feature negotiation, the device status and the
/// queues' registers; the model owns what the device does with requests. A model is written
/// once and sees guest memory only through its `VirtioQueueService`.
///
/// Calls into a model are serialized by the VM's device lock (`VirtualMachine.lockDevices`),
/// except what a model documents as its own (a NIC's receive side, fed from other CPUs by
/// the node's switch, takes the NIC's own lock and never the VM's).
public protocol VirtioDeviceModel: AnyObject {
  /// The device ID (§5): 1 network, 2 block, 4 entropy.
  var deviceType: UInt16 { get }
  /// Device feature bits the model offers (§5.x.3); the transport adds its own
  /// (VIRTIO_F_VERSION_1 and the ring features it implements).
  var deviceFeatures: UInt64 { get }
  /// Virtqueues the device has.
  var queueCount: Int { get }
  /// The largest size the transport reports for each queue (a power of two).
  var maximumQueueSize: UInt16 { get }
  /// Bytes of the device-specific configuration structure (§5.x.4).
  var configurationSize: Int { get }
  /// A guest read of the device-specific configuration, little-endian.
  func readConfiguration(offset: Int, size: Int) -> UInt32
  func writeConfiguration(offset: Int, size: Int, value: UInt32)
  /// The driver set DRIVER_OK having accepted `features`: from now until `reset`, the model
  /// serves its queues through `service`.
  func activate(features: UInt64, service: any VirtioQueueService)
  /// The driver notified queue `queue` (its doorbell; §4.1.5.2).
  func queueNotified(_ queue: Int)
  /// The driver wrote 0 to the device status, or the VM ends: forget the queues and
  /// `service`.
  func reset()
  /// Its own state as a value for a VM's saved state (docs/vm-state.md), or nil when it has
  /// none beyond the transport's; called under the VM's device lock.
  func savedDevice() -> SavedDevice?
  /// Puts back a value `savedDevice()` gave, after the transport restored (and, for a live
  /// device, activated) it: false when `saved` is not this model's kind.
  func restore(savedDevice saved: SavedDevice) -> Bool
}

extension VirtioDeviceModel {
  public func savedDevice() -> SavedDevice? { nil }
  public func restore(savedDevice saved: SavedDevice) -> Bool { false }
}

/// What a transport gives an active device model: its queues in guest memory, and the way to
/// tell the driver. Every guest-physical access it makes is checked against the VM's RAM.
public protocol VirtioQueueService: AnyObject {
  /// The VM's RAM, for the buffers of a chain the service handed out.
  var memory: GuestMemoryMap { get }
  /// The next request the driver made available on `queue`, nil when there is none or the
  /// queue is not enabled. `maximumLength` bounds one request's bytes.
  func nextRequest(queue: Int, maximumLength: UInt64) throws(VirtqueueFault) -> DescriptorChain?
  /// Gives request `head` of `queue` back to the driver with `written` bytes written.
  func complete(queue: Int, head: UInt16, written: UInt32) throws(VirtqueueFault)
  /// Sends the driver one interrupt for every request completed on `queue` since the last
  /// call, if it asked for one (§2.6.7); a model calls it once per batch.
  func signalUsed(queue: Int)
  /// The driver broke a rule on a queue: set DEVICE_NEEDS_RESET and send the configuration
  /// interrupt (§2.1.2). The model serves nothing more until `reset`.
  func deviceNeedsReset(_ fault: VirtqueueFault)
  /// The device configuration changed (a NIC's link status): the configuration interrupt.
  func configurationChanged()
  /// Asks the driver to notify once it makes the next request available on `queue`
  /// (§2.6.10): with VIRTIO_F_EVENT_IDX, avail_event = the next index the device takes. A
  /// model calls it when it found the queue empty, then looks once more (a request made
  /// available before avail_event was written brought no notification). Without it, a
  /// driver that negotiated EVENT_IDX stops notifying after its first request.
  func requestNotification(queue: Int) throws(VirtqueueFault)
}

extension VirtioQueueService {
  public func requestNotification(queue: Int) throws(VirtqueueFault) {}
}
