/// Offsets in struct virtio_pci_common_cfg (virtio 1.1 §4.1.4.3), all little-endian.
public enum VirtioCommonConfiguration {
  public static let deviceFeatureSelect = 0x00  // le32
  public static let deviceFeature = 0x04  // le32
  public static let driverFeatureSelect = 0x08  // le32
  public static let driverFeature = 0x0C  // le32
  public static let msixConfig = 0x10  // le16
  public static let numberOfQueues = 0x12  // le16
  public static let deviceStatus = 0x14  // u8
  public static let configGeneration = 0x15  // u8
  public static let queueSelect = 0x16  // le16
  public static let queueSize = 0x18  // le16
  public static let queueMSIXVector = 0x1A  // le16
  public static let queueEnable = 0x1C  // le16
  public static let queueNotifyOffset = 0x1E  // le16
  public static let queueDescriptors = 0x20  // le64
  public static let queueDriver = 0x28  // le64
  public static let queueDevice = 0x30  // le64
  /// queue_msix_vector / config_msix_vector value for "no vector" (§4.1.5.1.2).
  public static let noVector: UInt16 = 0xFFFF
}

/// Device status bits (virtio 1.1 §2.1).
public enum VirtioStatus {
  public static let acknowledge: UInt8 = 1
  public static let driver: UInt8 = 2
  public static let driverOK: UInt8 = 4
  public static let featuresOK: UInt8 = 8
  public static let deviceNeedsReset: UInt8 = 64
  public static let failed: UInt8 = 128
}

/// Feature bits the network driver knows (virtio 1.1 §5.1.3, §6).
public enum VirtioFeature {
  public static let netMAC: UInt64 = 1 << 5
  public static let netStatus: UInt64 = 1 << 16
  public static let version1: UInt64 = 1 << 32
  public static let accessPlatform: UInt64 = 1 << 33

  public enum Problem: Error, Equatable {
    /// The device does not offer VIRTIO_F_VERSION_1: a legacy-only device.
    case notModern
  }

  /// The features to accept from `offered`: VERSION_1 (required: this is a modern-only
  /// driver), MAC if offered. Nothing else: no offloads, no mergeable buffers, so every
  /// received buffer holds one whole frame after a 12-byte header.
  public static func negotiate(offered: UInt64) -> Result<UInt64, Problem> {
    guard offered & version1 != 0 else { return .failure(.notModern) }
    return .success(offered & (version1 | netMAC))
  }
}

/// struct virtio_net_hdr (virtio 1.1 §5.1.6): 12 bytes before every frame once
/// VERSION_1 is negotiated (num_buffers is always there). All zero on transmit: no
/// checksum offload, no segmentation.
public enum VirtioNetHeader {
  public static let length = 12
}
