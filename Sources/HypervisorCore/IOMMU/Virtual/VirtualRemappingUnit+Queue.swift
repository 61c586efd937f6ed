/// Queued invalidation (VT-d spec rev 4.1 §6.5.2): a tail write makes the unit fetch and
/// complete every 128-bit descriptor from IQH up to IQT at once, under the same exit.
/// Context-cache, IOTLB, device-TLB and interrupt-entry-cache invalidations need no work
/// (the unit caches nothing); an invalidation wait writes its status and/or sets ICS.IWC.
/// A descriptor of an unknown type, a queue outside the VM's RAM or DW = 1 (256-bit
/// descriptors, scalable mode only) stops the queue with FSTS.IQE at that descriptor, IQH
/// pointing at it, as §6.5.2.10 says.
extension VirtualRemappingUnit {
  /// Descriptor types (§6.5.2, low bits 3:0).
  enum DescriptorType {
    static let contextCache: UInt64 = 1
    static let iotlb: UInt64 = 2
    static let deviceTLB: UInt64 = 3
    static let interruptEntryCache: UInt64 = 4
    static let wait: UInt64 = 5
  }

  /// The queue's size in descriptors: 2^QS pages of 256 (§11.4.9.3).
  var queueEntries: UInt64 { 256 << (registers.queueAddress & 7) }

  func processQueue() {
    guard registers.globalStatus & RemappingGlobalBit.queuedInvalidation != 0,
      registers.faultStatus & VirtualRemappingBit.invalidationQueueError == 0
    else { return }
    let base = registers.queueAddress & ~0xFFF
    let entries = queueEntries
    var head = (registers.queueHead >> 4) % entries
    let tail = (registers.queueTail >> 4) % entries
    // Bounded: at most one lap of the queue per tail write.
    while head != tail {
      guard registers.queueAddress & (1 << 11) == 0,
        let low = memory.read64(base + head * 16), let high = memory.read64(base + head * 16 + 8),
        perform(QueuedInvalidationDescriptor(low: low, high: high))
      else {
        registers.faultStatus |= VirtualRemappingBit.invalidationQueueError
        signalEvent(.fault)
        break
      }
      head = (head + 1) % entries
    }
    registers.queueHead = head << 4
  }

  /// Completes one descriptor; false for one the unit does not know.
  func perform(_ descriptor: QueuedInvalidationDescriptor) -> Bool {
    switch descriptor.low & 0xF {
    case DescriptorType.contextCache, DescriptorType.iotlb, DescriptorType.deviceTLB,
      DescriptorType.interruptEntryCache:
      return true  // nothing cached (§6.5.2.1-§6.5.2.7)
    case DescriptorType.wait:
      // §6.5.2.8: SW (5) writes the status data (63:32) to the address (127:66, 4-byte
      // aligned) in guest memory, untranslated; IF (4) sets ICS.IWC and signals the
      // invalidation-completion event. FN (6) needs nothing: every descriptor is complete.
      if descriptor.low & (1 << 5) != 0 {
        var status = UInt32(truncatingIfNeeded: descriptor.low >> 32)
        let written = withUnsafeBytes(of: &status) {
          memory.write($0, to: descriptor.high & ~3)
        }
        guard written else { return false }
      }
      if descriptor.low & (1 << 4) != 0,
        registers.completionStatus & VirtualRemappingBit.waitComplete == 0
      {
        registers.completionStatus |= VirtualRemappingBit.waitComplete
        signalEvent(.invalidation)
      }
      return true
    default: return false
    }
  }
}
