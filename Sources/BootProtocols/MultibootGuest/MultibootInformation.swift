/// The boot information a multiboot guest finds at EBX: v1's `multiboot_info` (Multiboot
/// 0.6.96 §3.3) or v2's tag list (Multiboot2 2.0 §3.6), with everything it points at
/// (memory map, module list, strings) packed after it, addressed from `base`.
public enum MultibootInformation {
  /// A module as the guest sees it: where it lies and its string.
  public struct PlacedModule: Equatable, Sendable {
    public var range: PhysicalRange
    public var string: [UInt8]
    public init(range: PhysicalRange, string: [UInt8]) {
      self.range = range
      self.string = string
    }
  }

  /// What the loader tells the guest.
  public struct Contents: Equatable, Sendable {
    public var commandLine: [UInt8]
    public var loaderName: [UInt8]
    public var modules: [PlacedModule]
    /// The RSDP's 36 bytes (revision 2): v2 gets its first 20 as the old-RSDP tag, all as
    /// the new-RSDP tag.
    public var rsdp: [UInt8]

    public init(commandLine: [UInt8], loaderName: [UInt8], modules: [PlacedModule], rsdp: [UInt8]) {
      self.commandLine = commandLine
      self.loaderName = loaderName
      self.modules = modules
      self.rsdp = rsdp
    }
  }

  /// The EAX value at entry (v1 §3.2, v2 §3.3).
  public static func entryMagic(_ version: MultibootGuestHeader.Version) -> UInt32 {
    version == .v1 ? 0x2BAD_B002 : 0x36D7_6289
  }

  public static func build(
    _ version: MultibootGuestHeader.Version, layout: MultibootGuestLayout, contents: Contents,
    base: UInt64
  ) -> [UInt8] {
    version == .v1
      ? v1(layout: layout, contents: contents, base: base)
      : v2(layout: layout, contents: contents)
  }

  /// v1 flags (§3.3): 0 mem_lower/mem_upper, 2 cmdline, 3 mods, 6 mmap, 9 boot_loader_name.
  enum V1Flag {
    static let memory: UInt32 = 1 << 0
    static let commandLine: UInt32 = 1 << 2
    static let modules: UInt32 = 1 << 3
    static let memoryMap: UInt32 = 1 << 6
    static let loaderName: UInt32 = 1 << 9
  }
  /// The fixed part of multiboot_info up to the framebuffer fields (§3.3).
  static let v1InfoSize = 116

  static func v1(layout: MultibootGuestLayout, contents: Contents, base: UInt64) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: v1InfoSize)
    let address = { (offset: Int) -> UInt32 in UInt32(truncatingIfNeeded: base + UInt64(offset)) }
    // The memory map: each entry is size (20, not counting itself), base, length, type.
    let mapOffset = bytes.count
    for entry in layout.memoryMap {
      bytes.appendLittleEndian(UInt32(20))
      bytes.appendLittleEndian(entry.address)
      bytes.appendLittleEndian(entry.size)
      bytes.appendLittleEndian(entry.type)
    }
    let mapLength = bytes.count - mapOffset
    let modulesOffset = bytes.count
    bytes += [UInt8](repeating: 0, count: 16 * contents.modules.count)
    func string(_ text: [UInt8]) -> UInt32 {
      let offset = bytes.count
      bytes += text + [0]
      return address(offset)
    }
    for (index, module) in contents.modules.enumerated() {
      let entry = modulesOffset + 16 * index
      bytes.storeLittleEndian(UInt32(truncatingIfNeeded: module.range.start), at: entry)
      bytes.storeLittleEndian(UInt32(truncatingIfNeeded: module.range.end), at: entry + 4)
      bytes.storeLittleEndian(string(module.string), at: entry + 8)
    }
    bytes.storeLittleEndian(
      V1Flag.memory | V1Flag.commandLine | V1Flag.modules | V1Flag.memoryMap | V1Flag.loaderName,
      at: 0)
    bytes.storeLittleEndian(layout.lowerMemoryKiB, at: 4)
    bytes.storeLittleEndian(layout.upperMemoryKiB, at: 8)
    bytes.storeLittleEndian(string(contents.commandLine), at: 16)
    bytes.storeLittleEndian(UInt32(contents.modules.count), at: 20)
    bytes.storeLittleEndian(address(modulesOffset), at: 24)
    bytes.storeLittleEndian(UInt32(mapLength), at: 44)
    bytes.storeLittleEndian(address(mapOffset), at: 48)
    bytes.storeLittleEndian(string(contents.loaderName), at: 64)
    return bytes
  }

  /// v2 tag types (§3.6).
  enum V2Tag {
    static let end: UInt32 = 0
    static let commandLine: UInt32 = 1
    static let loaderName: UInt32 = 2
    static let module: UInt32 = 3
    static let basicMemory: UInt32 = 4
    static let memoryMap: UInt32 = 6
    static let oldRSDP: UInt32 = 14
    static let newRSDP: UInt32 = 15
  }

  static func v2(layout: MultibootGuestLayout, contents: Contents) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 8)  // total_size, reserved
    func tag(_ type: UInt32, _ body: [UInt8]) {
      bytes.appendLittleEndian(type)
      bytes.appendLittleEndian(UInt32(8 + body.count))
      bytes += body
      while bytes.count % 8 != 0 { bytes.append(0) }
    }
    tag(V2Tag.commandLine, contents.commandLine + [0])
    tag(V2Tag.loaderName, contents.loaderName + [0])
    for module in contents.modules {
      var body: [UInt8] = []
      body.appendLittleEndian(UInt32(truncatingIfNeeded: module.range.start))
      body.appendLittleEndian(UInt32(truncatingIfNeeded: module.range.end))
      tag(V2Tag.module, body + module.string + [0])
    }
    var memory: [UInt8] = []
    memory.appendLittleEndian(layout.lowerMemoryKiB)
    memory.appendLittleEndian(layout.upperMemoryKiB)
    tag(V2Tag.basicMemory, memory)
    var map: [UInt8] = []
    map.appendLittleEndian(UInt32(24))  // entry_size
    map.appendLittleEndian(UInt32(0))  // entry_version
    for entry in layout.memoryMap {
      map.appendLittleEndian(entry.address)
      map.appendLittleEndian(entry.size)
      map.appendLittleEndian(entry.type)
      map.appendLittleEndian(UInt32(0))
    }
    tag(V2Tag.memoryMap, map)
    if contents.rsdp.count >= 36 {
      tag(V2Tag.oldRSDP, Array(contents.rsdp[0..<20]))
      tag(V2Tag.newRSDP, Array(contents.rsdp[0..<36]))
    }
    tag(V2Tag.end, [])
    bytes.storeLittleEndian(UInt32(bytes.count), at: 0)
    return bytes
  }
}
