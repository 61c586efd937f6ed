import Synchronization

/// One virtqueue's transport registers (virtio 1.1 §4.1.4.3: queue_size ... queue_device) and,
/// once the driver enabled it, its ring. A class so that each queue's state is its own
/// storage: the VM's device lock covers every queue but a NIC's receive queue, which its
/// receive side serves from another CPU under the NIC's lock; neither side then touches the
/// other's queue object (the array holding them never changes after init).
final class VirtioPCIQueue {
  let maximumSize: UInt16
  var size: UInt16
  var descriptorTable: UInt64 = 0
  var driverArea: UInt64 = 0
  var deviceArea: UInt64 = 0
  /// Read by the serving side when it signals; atomic so a late reprogramming is not a race.
  let vector = Atomic<UInt16>(VirtioPCIFunction.noVector)
  var enabled = false
  var ring: DeviceVirtqueue? = nil
  /// A completion since the last signalUsed asked for an interrupt (§2.6.7).
  var interruptWanted = false

  init(maximumSize: UInt16) {
    self.maximumSize = maximumSize
    size = maximumSize
  }

  func reset() {
    size = maximumSize
    descriptorTable = 0
    driverArea = 0
    deviceArea = 0
    vector.store(VirtioPCIFunction.noVector, ordering: .releasing)
    enabled = false
    ring = nil
    interruptWanted = false
  }
}
