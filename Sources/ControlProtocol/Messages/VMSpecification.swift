/// A VM to create: the fields of a profile that the node needs (the CLI reads them from the
/// XML profile; the boot-time `vm name=...` line carries the same).
public struct VMSpecification: Equatable {
  public enum Kind: UInt8, Equatable, CaseIterable {
    /// A flat binary loaded at 0x1000, entered in real mode at 0000:1000.
    case flat = 0
    /// A bzImage booted by the Linux boot protocol.
    case linux = 1
  }

  /// How the vCPUs share host CPUs (the profile's `sched=`).
  public enum Scheduling: UInt8, Equatable, CaseIterable {
    case shared = 0
    case pinned = 1
    case gang = 2
  }

  public var name: [UInt8]
  public var kind: Kind
  public var memorySize: UInt64
  public var vcpuCount: UInt16
  public var scheduling: Scheduling
  /// With `.pinned`: the host CPU of each vCPU, in vCPU order; otherwise empty.
  public var pinnedCPUs: [UInt16]
  /// The name of a transferred image (`transferBegin`) holding the kernel or flat binary.
  public var kernelImage: [UInt8]
  /// The name of a transferred initramfs; empty for none.
  public var initrdImage: [UInt8]
  public var commandLine: [UInt8]
  /// One MAC address (6 bytes) per NIC.
  public var nics: [[UInt8]]
  /// The name of a transferred image that becomes the VM's disk (virtio-blk); empty for none.
  public var diskImage: [UInt8]
  /// Build the VM but do not load a guest or start it: it is the target of a restore or a
  /// migration (`VMState.incoming`). The kernel image is still named (the boot-time
  /// profile's), but not loaded.
  public var incoming: Bool
  /// Host PCI functions handed to the guest (`<passthrough>`; protocol version 5), at most
  /// `ProtocolLimits.maximumPassthroughFunctions`.
  public var passthrough: [PCIFunctionID]

  public init(
    name: [UInt8], kind: Kind = .linux, memorySize: UInt64, vcpuCount: UInt16 = 1,
    scheduling: Scheduling = .shared, pinnedCPUs: [UInt16] = [], kernelImage: [UInt8],
    initrdImage: [UInt8] = [], commandLine: [UInt8] = [], nics: [[UInt8]] = [],
    diskImage: [UInt8] = [], incoming: Bool = false, passthrough: [PCIFunctionID] = []
  ) {
    self.name = name
    self.kind = kind
    self.memorySize = memorySize
    self.vcpuCount = vcpuCount
    self.scheduling = scheduling
    self.pinnedCPUs = pinnedCPUs
    self.kernelImage = kernelImage
    self.initrdImage = initrdImage
    self.commandLine = commandLine
    self.nics = nics
    self.diskImage = diskImage
    self.incoming = incoming
    self.passthrough = passthrough
  }

  func encode(into writer: inout WireWriter) throws(WireError) {
    try writer.bytes8(name, maximum: ProtocolLimits.maximumNameLength)
    writer.u8(kind.rawValue)
    writer.u64(memorySize)
    writer.u16(vcpuCount)
    writer.u8(scheduling.rawValue)
    try writer.count8(pinnedCPUs.count, maximum: ProtocolLimits.maximumVCPUs)
    for cpu in pinnedCPUs { writer.u16(cpu) }
    try writer.bytes8(kernelImage, maximum: ProtocolLimits.maximumImageNameLength)
    try writer.bytes8(initrdImage, maximum: ProtocolLimits.maximumImageNameLength)
    try writer.bytes16(commandLine, maximum: ProtocolLimits.maximumCommandLineLength)
    try writer.count8(nics.count, maximum: ProtocolLimits.maximumNICs)
    for mac in nics { try writer.fixed(mac, count: 6) }
    try writer.bytes8(diskImage, maximum: ProtocolLimits.maximumImageNameLength)
    writer.bool(incoming)
    try writer.count8(passthrough.count, maximum: ProtocolLimits.maximumPassthroughFunctions)
    for function in passthrough { function.encode(into: &writer) }
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> VMSpecification {
    let name = try reader.bytes8(maximum: ProtocolLimits.maximumNameLength)
    let kind = try reader.enumeration(Kind.self)
    let memorySize = try reader.u64()
    let vcpuCount = try reader.u16()
    let scheduling = try reader.enumeration(Scheduling.self)
    let pinCount = try reader.count8(maximum: ProtocolLimits.maximumVCPUs, minimumElementSize: 2)
    var pinnedCPUs: [UInt16] = []
    for _ in 0..<pinCount { pinnedCPUs.append(try reader.u16()) }
    let kernelImage = try reader.bytes8(maximum: ProtocolLimits.maximumImageNameLength)
    let initrdImage = try reader.bytes8(maximum: ProtocolLimits.maximumImageNameLength)
    let commandLine = try reader.bytes16(maximum: ProtocolLimits.maximumCommandLineLength)
    let nicCount = try reader.count8(maximum: ProtocolLimits.maximumNICs, minimumElementSize: 6)
    var nics: [[UInt8]] = []
    for _ in 0..<nicCount { nics.append(try reader.fixed(count: 6)) }
    let diskImage = try reader.bytes8(maximum: ProtocolLimits.maximumImageNameLength)
    let incoming = try reader.bool()
    let functionCount = try reader.count8(
      maximum: ProtocolLimits.maximumPassthroughFunctions,
      minimumElementSize: PCIFunctionID.encodedSize)
    var passthrough: [PCIFunctionID] = []
    for _ in 0..<functionCount { passthrough.append(try PCIFunctionID.decode(from: &reader)) }
    return VMSpecification(
      name: name, kind: kind, memorySize: memorySize, vcpuCount: vcpuCount,
      scheduling: scheduling, pinnedCPUs: pinnedCPUs, kernelImage: kernelImage,
      initrdImage: initrdImage, commandLine: commandLine, nics: nics, diskImage: diskImage,
      incoming: incoming, passthrough: passthrough)
  }

  /// What is wrong with the specification on any node (whether it fits this node is the
  /// node's question), or nil.
  public func problem() -> ControlFailure? {
    func refuse(_ text: StaticString) -> ControlFailure {
      ControlFailure(.invalidProfile, detail: text.bytes)
    }
    if name.isEmpty { return refuse("the name is empty") }
    for byte in name where !VMSpecification.isNameCharacter(byte) {
      return refuse("the name may hold only letters, digits, '-', '_' and '.'")
    }
    if vcpuCount == 0 || Int(vcpuCount) > ProtocolLimits.maximumVCPUs {
      return refuse("vCPUs must be 1 to 64")
    }
    if memorySize < 1 << 20 || memorySize % 4096 != 0 {
      return refuse("memory must be at least 1 MiB, in whole 4 KiB pages")
    }
    if scheduling == .pinned ? pinnedCPUs.count != Int(vcpuCount) : !pinnedCPUs.isEmpty {
      return refuse("sched=pinned needs one host CPU per vCPU, other modes none")
    }
    if kernelImage.isEmpty { return refuse("no kernel image") }
    if !diskImage.isEmpty && (diskImage == kernelImage || diskImage == initrdImage) {
      return refuse("the disk image is also the kernel or initrd image")
    }
    for mac in nics {
      if mac.count != 6 { return refuse("a NIC's MAC address is not 6 bytes") }
      // IEEE 802-2014 §8.2.2: bit 0 of the first octet set is a group (multicast) address.
      if mac[0] & 1 != 0 { return refuse("a NIC's MAC address is multicast (first octet odd)") }
      if mac.allSatisfy({ $0 == 0 }) { return refuse("a NIC's MAC address is all zeros") }
    }
    for (index, mac) in nics.enumerated() where nics[..<index].contains(mac) {
      return refuse("two NICs have the same MAC address")
    }
    for (index, function) in passthrough.enumerated() where passthrough[..<index].contains(function)
    {
      return refuse("a PCI function is passed through twice")
    }
    return nil
  }

  static func isNameCharacter(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
      UInt8(ascii: "."):
      return true
    default:
      return false
    }
  }
}
