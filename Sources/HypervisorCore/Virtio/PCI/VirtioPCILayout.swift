/// Where the virtio 1.x PCI transport ("modern", virtio 1.1 §4.1) puts its structures, as QEMU
/// lays them out so that guest drivers meet a familiar shape: one 64-bit memory BAR (BAR 4,
/// 16 KiB) holding the common configuration, ISR status, device configuration and notify
/// regions, and a 32-bit memory BAR (BAR 1, 4 KiB) holding the MSI-X table and PBA.
public enum VirtioPCILayout {
  public static let vendorID: UInt16 = 0x1AF4
  /// Modern device IDs are 0x1040 + the virtio device type (§4.1.2.1).
  public static let firstModernDeviceID: UInt16 = 0x1040
  /// QEMU's subsystem ID for its virtio devices; Linux does not look at it.
  public static let subsystemID: UInt16 = 0x1100

  public static let msixBAR = 1
  public static let msixBARSize: UInt64 = 0x1000
  public static let msixTableOffset: UInt64 = 0
  public static let pendingBitsOffset: UInt64 = 0x800

  public static let virtioBAR = 4
  public static let virtioBARSize: UInt64 = 0x4000
  public static let commonOffset: UInt64 = 0
  public static let commonLength: UInt64 = 0x38
  public static let isrOffset: UInt64 = 0x1000
  public static let deviceOffset: UInt64 = 0x2000
  public static let notifyOffset: UInt64 = 0x3000
  /// Each queue's doorbell is queue_notify_off × this many bytes into the notify region
  /// (§4.1.4.4); queue_notify_off is the queue index.
  public static let notifyOffMultiplier: UInt32 = 4

  /// The largest table a function has; PBA bits for 2048 vectors fill 256 bytes.
  public static let maximumVectors = 64

  /// PCI class code and subclass per device type (as QEMU uses them).
  static func classCode(deviceType: UInt16) -> (UInt8, UInt8) {
    switch deviceType {
    case 1: return (0x02, 0x00)  // network controller, Ethernet
    case 2: return (0x01, 0x00)  // mass storage, SCSI (QEMU's virtio-blk)
    default: return (0xFF, 0x00)  // unassigned class, as QEMU's virtio-rng
    }
  }
}

/// The device status bits (virtio 1.1 §2.1).
public enum VirtioStatus {
  public static let acknowledge: UInt8 = 1
  public static let driver: UInt8 = 2
  public static let driverOK: UInt8 = 4
  public static let featuresOK: UInt8 = 8
  public static let needsReset: UInt8 = 64
  public static let failed: UInt8 = 128
}

/// Transport and ring feature bits (virtio 1.1 §6).
public enum VirtioFeature {
  public static let indirectDescriptors: UInt64 = 1 << 28
  public static let eventIndex: UInt64 = 1 << 29
  public static let version1: UInt64 = 1 << 32
  /// What the transport itself offers on top of a model's features: DeviceVirtqueue walks
  /// indirect tables and honours used_event/avail_event.
  public static let transport: UInt64 = indirectDescriptors | eventIndex | version1
}

/// virtio_pci_cap cfg_type values (§4.1.4).
enum VirtioPCICapabilityType: UInt8 {
  case common = 1
  case notify = 2
  case isr = 3
  case device = 4
}
