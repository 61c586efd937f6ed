import HypervisorCore

/// A VM as its XML profile describes it (docs/profiles.md): the seed's V2M profile
/// (`<name>`, `<image>`, `<nicN>`) with what a Peregrine VM needs on top.
public struct MachineProfile: Equatable {
  public var name: String
  /// `<type>`: V3M picks its backend by type; Peregrine runs only its own.
  public var type: MachineType = .peregrine
  public var memoryBytes: UInt64 = 256 << 20
  public var vcpus: Int = 1
  public var boot: Boot
  public var scheduling: Scheduling = Scheduling(mode: .shared, pinnedCPUs: nil)
  /// `<image size="MiB">`: the VM's disk (virtio-blk): an image of the CLI's store by name,
  /// or a file by path.
  public var disk: Disk?
  public var nics: [NIC] = []
  /// `<passthrough pci="0000:00:05.0"/>`: host PCI functions the node hands to the guest
  /// (docs/passthrough.md), in profile order.
  public var passthrough: [PassthroughFunction] = []
  /// The profile's own file, if it was read from one (relative paths resolve against it).
  public var sourceFile: String?

  public enum MachineType: String, Equatable, CaseIterable {
    case peregrine
  }

  public enum Boot: Equatable {
    /// `<kernel>`, `<initrd>`, `<cmdline>`: a Linux bzImage by the x86 boot protocol.
    case linux(kernel: String, initrd: String?, commandLine: String)
    /// `<flat load="0x1000" entry="0000:1000">`: a flat binary copied to `load` and
    /// entered in real mode at `entry` (segment:offset), as the test guests are.
    case flat(image: String, loadAddress: UInt64, entrySegment: UInt16, entryOffset: UInt16)
  }

  public struct Scheduling: Equatable {
    public var mode: SchedulingMode
    /// `pin="0,2"`: the host CPU of each vCPU, in vCPU order.
    public var pinnedCPUs: [Int]?
  }

  public struct Disk: Equatable {
    /// The file, resolved against the profile's folder (for a bare name, where it would be).
    public var path: String
    public var sizeMiB: UInt64
    /// A bare name (no '/'): an image of the CLI's store (`peregrine image list`) if it has
    /// one of that name, else the file at `path`. Nil for a path.
    public var storeName: String? = nil
  }

  public struct NIC: Equatable {
    /// N of `<nicN>`.
    public var index: Int
    public var mac: MACAddress
    /// `<network>`: the name of the network the NIC joins (the node's management network
    /// is `management`).
    public var network: String?
    /// `<ip>10.0.0.5/24</ip>` and `<gateway>`: a static address for the guest, passed to it
    /// on its command line by the tools that build it; nil for DHCP.
    public var address: IPv4Interface?
    public var gateway: IPv4Address?
  }

  public init(name: String, boot: Boot) {
    self.name = name
    self.boot = boot
  }

  /// The files the node needs: the kernel or flat image, then the initramfs, then the disk.
  public var files: [(role: String, path: String)] {
    var files: [(role: String, path: String)] = []
    switch boot {
    case .linux(let kernel, let initrd, _):
      files.append(("kernel", kernel))
      if let initrd { files.append(("initrd", initrd)) }
    case .flat(let image, _, _, _):
      files.append(("image", image))
    }
    if let disk { files.append(("disk", disk.path)) }
    return files
  }
}

extension SchedulingMode {
  /// The word the profile and the module line use.
  public var profileWord: String {
    switch self {
    case .shared: return "shared"
    case .pinned: return "pinned"
    case .gang: return "gang"
    }
  }

  public init?(profileWord: String) {
    switch profileWord {
    case "shared": self = .shared
    case "pinned": self = .pinned
    case "gang": self = .gang
    default: return nil
    }
  }
}
