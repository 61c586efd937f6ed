/// A virtio block device (virtio 1.1 §5.2, device ID 2) backed by a VM's `DiskImage` in node
/// memory: one request queue, requests served on the notifying vCPU's exit, each copied
/// between the guest's buffers and the image. Nothing the guest writes into a request can
/// reach outside the image or the guest's RAM: every sector range is checked against the
/// capacity before a byte moves (IOERR otherwise), and guest buffers come checked from the
/// transport's virtqueue.
public final class VirtioBlockDevice: VirtioDeviceModel {
  /// Queue entries: Linux sizes its requests by seg_max, which QEMU also sets to this less 2
  /// (a request's header and status take a descriptor each without indirect tables).
  public static let queueSize: UInt16 = 256
  /// size_max: Linux's own default largest segment (BLK_MAX_SEGMENT_SIZE).
  public static let largestSegment: UInt32 = 64 << 10
  /// DISCARD and WRITE_ZEROES limits: at most 4 MiB zeroed per range, 8 ranges a request,
  /// which bounds the work one request makes a notifying exit do.
  public static let largestZeroedRange: UInt32 = 8192
  public static let mostRanges: UInt32 = 8

  public let disk: DiskImage
  public let readOnly: Bool
  public let configuration: VirtioBlockConfiguration
  /// Read on other CPUs for `status` while the VM runs: a snapshot may be a request behind.
  public internal(set) var statistics = VirtioBlockStatistics()
  /// The features the driver accepted, while active.
  public internal(set) var negotiatedFeatures: UInt64 = 0
  private var service: (any VirtioQueueService)?
  /// The driver broke a queue rule: nothing more is served until `reset`.
  public internal(set) var needsReset = false

  public init(disk: DiskImage, readOnly: Bool = false) {
    self.disk = disk
    self.readOnly = readOnly
    configuration = VirtioBlockConfiguration(
      capacity: disk.size / VirtioBlockLayout.sectorSize, sizeMax: Self.largestSegment,
      segmentMax: UInt32(Self.queueSize) - 2, blockSize: 512,
      maximumDiscardSectors: Self.largestZeroedRange, maximumDiscardSegments: Self.mostRanges,
      discardSectorAlignment: 8, maximumWriteZeroesSectors: Self.largestZeroedRange,
      maximumWriteZeroesSegments: Self.mostRanges)
  }

  /// The most bytes one request may span: seg_max buffers of size_max, the header, the
  /// status byte (a longer chain breaks the driver's own limits: DEVICE_NEEDS_RESET).
  public static let maximumRequestLength =
    UInt64(queueSize - 2) * UInt64(largestSegment) + VirtioBlockLayout.headerSize + 1

  /// The disk's size in sectors; a partial last sector is not part of the disk.
  public var capacity: UInt64 { configuration.capacity }

  // MARK: VirtioDeviceModel

  public var deviceType: UInt16 { 2 }

  public var deviceFeatures: UInt64 {
    let features =
      VirtioBlockFeature.sizeMax | VirtioBlockFeature.segmentMax | VirtioBlockFeature.blockSize
      | VirtioBlockFeature.flush | VirtioBlockFeature.discard | VirtioBlockFeature.writeZeroes
    return readOnly ? features | VirtioBlockFeature.readOnly : features
  }

  public var queueCount: Int { 1 }
  public var maximumQueueSize: UInt16 { Self.queueSize }
  public var configurationSize: Int { VirtioBlockConfiguration.size }

  public func readConfiguration(offset: Int, size: Int) -> UInt32 {
    configuration.read(offset: offset, size: size)
  }

  /// Every field is read-only without VIRTIO_BLK_F_CONFIG_WCE (not offered): ignored.
  public func writeConfiguration(offset: Int, size: Int, value: UInt32) {}

  public func activate(features: UInt64, service: any VirtioQueueService) {
    negotiatedFeatures = features
    self.service = service
    needsReset = false
  }

  public func queueNotified(_ queue: Int) {
    statistics.notifications &+= 1
    guard queue == 0, let service, !needsReset else { return }
    // A driver keeps at most a queue's worth of requests available; more would be new
    // requests made while these were served, left for its next notification.
    var served = 0
    var fault: VirtqueueFault?
    while served < Int(Self.queueSize) {
      var next: DescriptorChain?
      do {
        next = try service.nextRequest(queue: 0, maximumLength: Self.maximumRequestLength)
        if next == nil {
          // Empty: ask for the next notification, then look once more for a request made
          // available before the driver could see that (§2.6.10).
          try service.requestNotification(queue: 0)
          next = try service.nextRequest(queue: 0, maximumLength: Self.maximumRequestLength)
        }
      } catch {
        fault = error
        break
      }
      guard let chain = next else { break }
      let written = serve(chain, memory: service.memory)
      do {
        try service.complete(queue: 0, head: chain.head, written: written)
      } catch {
        fault = error
        break
      }
      served += 1
    }
    if served > 0 { service.signalUsed(queue: 0) }
    if let fault {
      statistics.queueFaults &+= 1
      needsReset = true
      service.deviceNeedsReset(fault)
    }
  }

  public func reset() {
    service = nil
    negotiatedFeatures = 0
    needsReset = false
  }
}
