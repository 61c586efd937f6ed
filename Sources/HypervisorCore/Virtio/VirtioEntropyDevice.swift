/// Where an entropy device's bytes come from: the kernel supplies RDSEED/RDRAND with a
/// time-stamp-counter fallback; tests supply a fixed pattern.
public protocol EntropySource: AnyObject {
  /// Fills `buffer` wholly.
  func fill(_ buffer: UnsafeMutableRawBufferPointer)
}

/// virtio-rng (virtio 1.1 §5.4, device type 4): one request queue; the device fills each
/// request's device-writable buffers with entropy and gives back how many bytes it wrote.
/// No feature bits and no configuration structure.
public final class VirtioEntropyDevice: VirtioDeviceModel {
  public let deviceType: UInt16 = 4
  public let deviceFeatures: UInt64 = 0
  public let queueCount = 1
  public let maximumQueueSize: UInt16
  public let configurationSize = 0
  /// A request's bytes are bounded so one notification does bounded work.
  public static let maximumRequestLength: UInt64 = 64 * 1024

  private let source: any EntropySource
  private var service: (any VirtioQueueService)? = nil
  /// Bytes given to the guest since the VM started, for measuring.
  public private(set) var bytesProvided: UInt64 = 0
  public private(set) var requestsServed: Int = 0

  public init(source: any EntropySource, maximumQueueSize: UInt16 = 64) {
    self.source = source
    self.maximumQueueSize = maximumQueueSize
  }

  public func readConfiguration(offset: Int, size: Int) -> UInt32 { 0 }
  public func writeConfiguration(offset: Int, size: Int, value: UInt32) {}

  public func activate(features: UInt64, service: any VirtioQueueService) {
    self.service = service
  }

  public func reset() { service = nil }

  /// Serves every request available now (at most the queue's size of them, as the ring
  /// holds no more), then one interrupt for the batch.
  public func queueNotified(_ queue: Int) {
    guard queue == 0, let service else { return }
    do {
      while let chain = try service.nextRequest(
        queue: 0, maximumLength: Self.maximumRequestLength)
      {
        var written: UInt32 = 0
        for buffer in chain.buffers where buffer.writable {
          // The queue checked each buffer lies inside guest RAM.
          guard
            let pointer = service.memory.pointer(
              to: buffer.guestPhysical, length: UInt64(buffer.length))
          else { continue }
          source.fill(UnsafeMutableRawBufferPointer(start: pointer, count: Int(buffer.length)))
          written += buffer.length
        }
        try service.complete(queue: 0, head: chain.head, written: written)
        bytesProvided += UInt64(written)
        requestsServed += 1
      }
    } catch {
      service.deviceNeedsReset(error)
    }
    service.signalUsed(queue: 0)
  }
}
