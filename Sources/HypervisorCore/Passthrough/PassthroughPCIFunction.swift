import Synchronization

/// What the node read from a host PCI function to show it to a guest (docs/passthrough.md):
/// identity, memory BARs (I/O BARs are not passed), the vendor-specific capabilities (virtio's
/// structure locators, PCI Local Bus 3.0 §6.7 ID 09h) and the MSI-X capability's layout.
public struct PassthroughHostDescription: Equatable {
  public struct BAR: Equatable {
    public var bar: VirtualBAR
    /// Where the host's firmware put it (host-physical).
    public var hostAddress: UInt64

    public init(_ bar: VirtualBAR, hostAddress: UInt64) {
      self.bar = bar
      self.hostAddress = hostAddress
    }
  }

  /// The MSI-X capability's fields (§6.8.2): table entries, and where table and pending-bit
  /// array live (BAR index, offset).
  public struct MSIX: Equatable {
    public var tableSize: Int
    public var tableBAR: Int
    public var tableOffset: UInt64
    public var pendingBAR: Int
    public var pendingOffset: UInt64

    public init(
      tableSize: Int, tableBAR: Int, tableOffset: UInt64, pendingBAR: Int, pendingOffset: UInt64
    ) {
      self.tableSize = tableSize
      self.tableBAR = tableBAR
      self.tableOffset = tableOffset
      self.pendingBAR = pendingBAR
      self.pendingOffset = pendingOffset
    }
  }

  public var vendorID: UInt16
  public var deviceID: UInt16
  public var classCode: UInt8
  public var subclass: UInt8
  public var programmingInterface: UInt8
  public var revision: UInt8
  public var subsystemVendorID: UInt16
  public var subsystemID: UInt16
  /// By BAR index (a 64-bit BAR's upper index nil); I/O BARs left out.
  public var bars: [BAR?]
  /// Each vendor-specific capability's bytes after its ID and next pointer.
  public var vendorCapabilities: [[UInt8]]
  public var msix: MSIX?
  /// The host function has an MSI capability (§6.8.1, ID 05h): the guest gets a virtual one
  /// whose message the node sends when the node's host vector for the function fires.
  public var hasMSI: Bool

  public init(
    vendorID: UInt16, deviceID: UInt16, classCode: UInt8, subclass: UInt8,
    programmingInterface: UInt8 = 0, revision: UInt8 = 0, subsystemVendorID: UInt16 = 0,
    subsystemID: UInt16 = 0, bars: [BAR?], vendorCapabilities: [[UInt8]] = [], msix: MSIX? = nil,
    hasMSI: Bool = false
  ) {
    self.vendorID = vendorID
    self.deviceID = deviceID
    self.classCode = classCode
    self.subclass = subclass
    self.programmingInterface = programmingInterface
    self.revision = revision
    self.subsystemVendorID = subsystemVendorID
    self.subsystemID = subsystemID
    self.bars = bars
    self.vendorCapabilities = vendorCapabilities
    self.msix = msix
    self.hasMSI = hasMSI
  }
}

/// The node's hands on the host function: its BARs' MMIO and its command register. The
/// kernel implements it over the identity-mapped (uncached) MMIO and port configuration
/// space; tests with a fake.
public protocol PassthroughHostAccess: AnyObject {
  func readMMIO(bar: Int, offset: UInt64, size: UInt8) -> UInt64
  func writeMMIO(bar: Int, offset: UInt64, size: UInt8, value: UInt64)
  /// Sets the host command register's memory-space and bus-master bits (§6.2.2); everything
  /// else in it stays as the node set it (I/O off, INTx disabled).
  func setCommand(memorySpace: Bool, busMaster: Bool)
}

/// A node-side model of whole pages of a passed-through function's BAR (docs/passthrough.md,
/// "NVMe admin guard": an NVMe VF's register page). Its pages are kept out of
/// `mappableRanges`, so guest accesses there exit and come here, under the VM's device lock;
/// the model reaches the device through its own host access.
public protocol PassthroughBARInterposer: AnyObject {
  /// The BAR index and the 4 KiB-aligned byte range of it the model takes over.
  var bar: Int { get }
  var pages: Range<UInt64> { get }
  func read(offset: UInt64, size: UInt8) -> UInt64
  func write(offset: UInt64, size: UInt8, value: UInt64)
}

/// A host PCI function as the guest sees it on its virtual bus (docs/passthrough.md).
/// Configuration space is virtual: identity passed through, memory BARs of the host's sizes
/// at guest addresses (sizing reads work: the configuration keeps only the bits a BAR's size
/// decodes), no I/O BARs, no INTx pin, the command register reduced to memory space, bus
/// master and INTx disable, of which only the first two reach the host. The capability list
/// holds only the host's vendor-specific capabilities (read-only copies) and a virtual MSI-X
/// capability; power management, PCI Express and MSI are hidden, so the guest can't reset,
/// power or retrain the function, and sees nothing of other functions.
///
/// BAR accesses go to the host's MMIO, except the MSI-X table, which is the guest's own
/// copy: its vectors are delivered as the guest programmed them (`deliver`) when the node's
/// host vector for that entry fires; the guest never writes an address or data the device
/// would send. The device's real table holds the node's messages (`routeHostVectors`), and
/// only the guest's masking reaches it (`mirrorMasks`). Serialized by the VM's device lock,
/// as every device model's, except `deliver` and `deliverMSI` (interrupt context, atomics).
public final class PassthroughPCIFunction: VirtualPCIFunction {
  public var configuration: VirtualPCIConfiguration {
    didSet { configurationChanged(from: oldValue) }
  }
  public let host: PassthroughFunction
  public let description: PassthroughHostDescription
  private let access: any PassthroughHostAccess
  private var vectors: [MSIXVector]
  private var messages: (any MessageSignaledInterruptSink)?
  /// The virtual MSI-X capability's offset, if the function has MSI-X.
  public private(set) var msixCapability: Int?
  /// The virtual MSI capability's offset, if the host function has MSI.
  public private(set) var msiCapability: Int?
  /// The guest's MSI message and enable bit, copied from the configuration on every change:
  /// `deliverMSI` runs in the node's interrupt handler, on any CPU, while a vCPU may be
  /// writing the configuration under the device lock.
  private let msiAddress = Atomic<UInt64>(0)
  private let msiData = Atomic<UInt32>(0)
  private let msiEnabled = Atomic<Bool>(false)
  private let msiDelivered = Atomic<UInt64>(0)
  private let msiDropped = Atomic<UInt64>(0)
  /// MSIs sent to the guest, and dropped because its MSI was disabled (it has no INTx).
  public var messagesDelivered: UInt64 { msiDelivered.load(ordering: .relaxed) }
  public var messagesDropped: UInt64 { msiDropped.load(ordering: .relaxed) }
  /// MSI-X enabled and the function not masked in the guest's capability, copied from the
  /// configuration on every change: `deliver(entry:)` runs in the node's interrupt handler.
  private let msixOpen = Atomic<Bool>(false)
  private let msixDelivered = Atomic<UInt64>(0)
  private let msixHeld = Atomic<UInt64>(0)
  /// MSI-X interrupts delivered, and held (the entry or function masked when they fired).
  public var delivered: UInt64 { msixDelivered.load(ordering: .relaxed) }
  public var held: UInt64 { msixHeld.load(ordering: .relaxed) }
  /// Entries 0..<hostRoutedEntries of the device's real MSI-X table carry a node vector
  /// (`routeHostVectors`); the rest stay masked in the device.
  public private(set) var hostRoutedEntries = 0
  /// Whether each routed real entry is unmasked now (written under the device lock only).
  private var hostUnmasked: [Bool] = []
  /// Writes to the real table's vector-control words (mask mirroring).
  public private(set) var hostMaskWrites: UInt64 = 0
  /// Called (under the VM's device lock, on the vCPU that wrote the configuration) when what
  /// `mappableRanges` lists may have changed: a BAR moved, or memory decoding toggled. The
  /// node remaps nested paging then (docs/passthrough.md); nil in tests that don't map.
  public var mappingChanged: (() -> Void)?
  /// A model of some of the BAR's pages (set once, before the mapping is first made).
  public var interposer: (any PassthroughBARInterposer)?

  public init(
    host: PassthroughFunction, description: PassthroughHostDescription,
    access: any PassthroughHostAccess
  ) {
    self.host = host
    self.description = description
    self.access = access
    var configuration = VirtualPCIConfiguration(
      vendorID: description.vendorID, deviceID: description.deviceID,
      classCode: description.classCode, subclass: description.subclass,
      programmingInterface: description.programmingInterface, revision: description.revision,
      subsystemVendorID: description.subsystemVendorID, subsystemID: description.subsystemID)
    for (index, bar) in description.bars.enumerated() where index < 6 {
      // The guest address comes from PCIPlatform.attach; 0 until then.
      if let bar, bar.bar.kind != .io { configuration.declareBAR(index, bar.bar, at: 0) }
    }
    for body in description.vendorCapabilities where body.count <= 64 {
      configuration.addCapability(id: 0x09, body: body)
    }
    vectors = []
    if let msix = description.msix, msix.tableSize >= 1, msix.tableSize <= 2048 {
      let control = UInt16(msix.tableSize - 1)
      let table = UInt32(truncatingIfNeeded: msix.tableOffset) & ~7 | UInt32(msix.tableBAR & 7)
      let pending =
        UInt32(truncatingIfNeeded: msix.pendingOffset) & ~7 | UInt32(msix.pendingBAR & 7)
      var body: [UInt8] = [UInt8(truncatingIfNeeded: control), UInt8(control >> 8)]
      for word in [table, pending] {
        for shift in stride(from: 0, to: 32, by: 8) {
          body.append(UInt8(truncatingIfNeeded: word >> UInt32(shift)))
        }
      }
      // Message control bits 15 (enable) and 14 (function mask) are the guest's (§6.8.2.3).
      msixCapability = configuration.addCapability(
        id: 0x11, body: body, writableBody: [0, 0b1100_0000])
      vectors = (0..<msix.tableSize).map { _ in MSIXVector() }
    }
    if description.hasMSI {
      // §6.8.1: message control (bit 7: 64-bit address capable; one message, no per-vector
      // masking), message address, upper address, data, two reserved bytes. The guest may
      // write the enable bit (control bit 0), the address (dword-aligned) and the data.
      let body: [UInt8] = [0x80, 0] + [UInt8](repeating: 0, count: 12)
      let writable: [UInt8] = [0x01, 0, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
      msiCapability = configuration.addCapability(id: 0x05, body: body, writableBody: writable)
    }
    self.configuration = configuration
  }

  public func connectInterrupts(_ messages: any MessageSignaledInterruptSink, intx: InterruptLine?)
  {
    self.messages = messages
  }

  // MARK: Configuration

  private var msixControl: UInt16 {
    guard let msixCapability else { return 0 }
    return UInt16(configuration.read(offset: msixCapability + 2, size: 2))
  }

  /// MSI-X enabled and the function not masked.
  public var messagesEnabled: Bool { msixControl & 0xC000 == 0x8000 }

  private func configurationChanged(from old: VirtualPCIConfiguration) {
    let command = configuration.commandRegister & 0b110
    if command != old.commandRegister & 0b110 {
      access.setCommand(memorySpace: command & 0b10 != 0, busMaster: command & 0b100 != 0)
    }
    msixOpen.store(messagesEnabled, ordering: .releasing)
    if messagesEnabled { releaseHeld() }
    mirrorMasks()
    if let msiCapability {
      let control = configuration.read(offset: msiCapability + 2, size: 2)
      let low = UInt64(configuration.read(offset: msiCapability + 4, size: 4))
      let high = UInt64(configuration.read(offset: msiCapability + 8, size: 4))
      msiAddress.store(high << 32 | low, ordering: .relaxed)
      msiData.store(configuration.read(offset: msiCapability + 12, size: 2), ordering: .relaxed)
      msiEnabled.store(control & 1 != 0, ordering: .releasing)
    }
    if let mappingChanged, Self.placementDiffers(old, configuration) { mappingChanged() }
  }

  /// Whether memory decoding or any BAR's address differs between `old` and `new`.
  static func placementDiffers(_ old: VirtualPCIConfiguration, _ new: VirtualPCIConfiguration)
    -> Bool
  {
    if old.decodesMemory != new.decodesMemory { return true }
    for index in 0..<6 where old.address(ofBAR: index) != new.address(ofBAR: index) {
      return true
    }
    return false
  }

  /// Each memory BAR's guest range and host address, where nested paging may map the one
  /// onto the other: memory decoding on, the BAR wholly inside `window` (the VM's PCI
  /// memory window; a BAR the guest moved elsewhere is mapped nowhere), and without the
  /// MSI-X table's page, which stays trapped (the ranges around it are listed).
  public func mappableRanges(window: Range<UInt64>) -> [(guest: UInt64, host: UInt64, size: UInt64)]
  {
    guard configuration.decodesMemory else { return [] }
    var ranges: [(guest: UInt64, host: UInt64, size: UInt64)] = []
    for (index, hostBAR) in description.bars.enumerated() where index < 6 {
      guard let hostBAR, let bar = configuration.bars[index],
        let base = configuration.address(ofBAR: index), base >= window.lowerBound,
        base <= window.upperBound, bar.size <= window.upperBound - base
      else { continue }
      var holes: [(start: UInt64, end: UInt64)] = []
      if let msix = description.msix, msix.tableBAR == index {
        let page: UInt64 = 4096
        let start = msix.tableOffset & ~(page - 1)
        let end = (msix.tableOffset + UInt64(msix.tableSize) * 16 + page - 1) & ~(page - 1)
        holes.append((start, end))
      }
      if let interposer, interposer.bar == index {
        holes.append((interposer.pages.lowerBound, interposer.pages.upperBound))
      }
      let pieces = Self.pieces(of: bar.size, without: holes)
      for piece in pieces where piece.end > piece.start {
        ranges.append(
          (base + piece.start, hostBAR.hostAddress + piece.start, piece.end - piece.start))
      }
    }
    return ranges
  }

  /// `[0, size)` without `holes` (any order, may overlap or pass the end), in order.
  static func pieces(of size: UInt64, without holes: [(start: UInt64, end: UInt64)])
    -> [(start: UInt64, end: UInt64)]
  {
    var pieces: [(start: UInt64, end: UInt64)] = []
    var at: UInt64 = 0
    for hole in holes.sorted(by: { $0.start < $1.start }) {
      if hole.start > at { pieces.append((at, min(hole.start, size))) }
      at = max(at, hole.end)
      if at >= size { break }
    }
    if at < size { pieces.append((at, size)) }
    return pieces.filter { $0.end > $0.start }
  }

  private func interposed(_ index: Int, _ offset: UInt64) -> (any PassthroughBARInterposer)? {
    guard let interposer, interposer.bar == index, interposer.pages.contains(offset) else {
      return nil
    }
    return interposer
  }

  // MARK: BARs

  /// The MSI-X table entry and word at `offset` of BAR `index`, if the table holds it.
  private func tableWord(_ index: Int, _ offset: UInt64) -> (entry: Int, word: Int)? {
    guard let msix = description.msix, msix.tableBAR == index, offset >= msix.tableOffset
    else { return nil }
    let inside = offset - msix.tableOffset
    guard inside < UInt64(vectors.count) * 16 else { return nil }
    return (Int(inside / 16), Int(inside % 16) / 4)
  }

  private func pendingWord(_ index: Int, _ offset: UInt64) -> Int? {
    guard let msix = description.msix, msix.pendingBAR == index, offset >= msix.pendingOffset
    else { return nil }
    let inside = offset - msix.pendingOffset
    guard inside < UInt64((vectors.count + 63) / 64) * 8 else { return nil }
    return Int(inside / 4)
  }

  public func readBAR(_ index: Int, offset: UInt64, size: UInt8) -> UInt64 {
    if let model = interposed(index, offset) { return model.read(offset: offset, size: size) }
    if let (entry, word) = tableWord(index, offset) {
      let low = UInt64(vectors[entry].read(word: word))
      guard size == 8, word % 2 == 0 else { return low }
      return low | UInt64(vectors[entry].read(word: word + 1)) << 32
    }
    if let word = pendingWord(index, offset) {
      var bits: UInt64 = 0
      for bit in 0..<32 {
        let entry = word * 32 + bit
        if entry < vectors.count, vectors[entry].pending.load(ordering: .acquiring) {
          bits |= 1 << UInt64(bit)
        }
      }
      // A routed entry the device holds pending (its real entry masked, §6.8.2.10) is
      // pending for the guest too.
      let routed = max(0, min(32, hostRoutedEntries - word * 32))
      if routed > 0, let msix = description.msix {
        let real = access.readMMIO(
          bar: msix.pendingBAR, offset: msix.pendingOffset + UInt64(word) * 4, size: 4)
        bits |= real & (routed == 32 ? 0xFFFF_FFFF : (1 << UInt64(routed)) - 1)
      }
      return bits
    }
    return access.readMMIO(bar: index, offset: offset, size: size)
  }

  public func writeBAR(_ index: Int, offset: UInt64, size: UInt8, value: UInt64)
    -> DeviceEffect
  {
    if let (entry, word) = tableWord(index, offset) {
      vectors[entry].write(word: word, value: UInt32(truncatingIfNeeded: value))
      if size == 8, word % 2 == 0 {
        vectors[entry].write(word: word + 1, value: UInt32(truncatingIfNeeded: value >> 32))
      }
      if messagesEnabled { releaseHeld() }
      if word == 3 || size == 8 && word == 2 { mirrorMasks() }
      return .none
    }
    if let model = interposed(index, offset) {
      model.write(offset: offset, size: size, value: value)
      return .none
    }
    // The pending-bit array is read-only (§6.8.2.10); the rest is the device's.
    if pendingWord(index, offset) != nil { return .none }
    access.writeMMIO(bar: index, offset: offset, size: size, value: value)
    return .none
  }

  // MARK: Interrupts

  /// The device raised MSI-X entry `entry` (the node's host vector for it fired): sent as
  /// the guest programmed the entry, or held as pending while the entry or the function is
  /// masked, and sent when unmasked (§6.8.2.9).
  /// Safe from any CPU (interrupt context): it reads only atomics and the table, whose
  /// entries are fixed at init.
  public func deliver(entry: Int) {
    guard entry >= 0, entry < vectors.count, let messages else { return }
    let vector = vectors[entry]
    if msixOpen.load(ordering: .acquiring), !vector.isMasked {
      send(vector, to: messages)
      return
    }
    vector.pending.store(true, ordering: .releasing)
    msixHeld.wrappingAdd(1, ordering: .relaxed)
    // The guest may have unmasked between the check and the store, after its `releaseHeld`
    // looked at the bit: whoever clears the bit sends the message, so it goes out once.
    if msixOpen.load(ordering: .acquiring), !vector.isMasked,
      vector.pending.exchange(false, ordering: .acquiringAndReleasing)
    {
      send(vector, to: messages)
    }
  }

  private func send(_ vector: MSIXVector, to messages: any MessageSignaledInterruptSink) {
    msixDelivered.wrappingAdd(1, ordering: .relaxed)
    messages.signal(address: vector.address, data: vector.data.load(ordering: .acquiring))
  }

  /// Programs the device's real MSI-X table (at attach, memory decoding on, before any vCPU
  /// runs): every entry masked first (vector control bit 0, §6.8.2.9), then entry `n` of
  /// `messages` (the node's message for the node vector of entry `n`: the device then only
  /// ever writes the node's messages) into real entry `n`. Entries past `messages` stay
  /// masked. From then on a real entry is unmasked exactly while the guest's view of it
  /// is: MSI-X enabled, function not masked, entry not masked (`mirrorMasks`), so the
  /// device holds an interrupt in its own pending bit while the guest masks it.
  public func routeHostVectors(_ messages: [(address: UInt64, data: UInt32)]) {
    guard let msix = description.msix else { return }
    let routed = min(messages.count, vectors.count)
    for entry in 0..<vectors.count {
      let base = msix.tableOffset + UInt64(entry) * 16
      access.writeMMIO(bar: msix.tableBAR, offset: base + 12, size: 4, value: 1)
      guard entry < routed else { continue }
      let message = messages[entry]
      access.writeMMIO(
        bar: msix.tableBAR, offset: base, size: 4, value: message.address & 0xFFFF_FFFF)
      access.writeMMIO(bar: msix.tableBAR, offset: base + 4, size: 4, value: message.address >> 32)
      access.writeMMIO(bar: msix.tableBAR, offset: base + 8, size: 4, value: UInt64(message.data))
    }
    hostRoutedEntries = routed
    hostUnmasked = Array(repeating: false, count: routed)
    mirrorMasks()
  }

  /// Brings each routed real entry's mask in line with the guest's view (under the device
  /// lock, after a configuration or table write): one MMIO write per entry that changed.
  private func mirrorMasks() {
    guard let msix = description.msix, hostRoutedEntries > 0 else { return }
    let open = messagesEnabled
    for entry in 0..<hostRoutedEntries {
      let unmasked = open && !vectors[entry].isMasked
      guard unmasked != hostUnmasked[entry] else { continue }
      hostUnmasked[entry] = unmasked
      hostMaskWrites &+= 1
      access.writeMMIO(
        bar: msix.tableBAR, offset: msix.tableOffset + UInt64(entry) * 16 + 12, size: 4,
        value: unmasked ? 0 : 1)
    }
  }

  /// The device raised its MSI (the node's host vector for this function fired): sent as
  /// the guest programmed its virtual capability, or dropped while the guest has MSI
  /// disabled (§6.8.1.3; the guest has no INTx to fall back on). Safe from any CPU.
  public func deliverMSI() {
    guard msiEnabled.load(ordering: .acquiring), let messages else {
      msiDropped.wrappingAdd(1, ordering: .relaxed)
      return
    }
    msiDelivered.wrappingAdd(1, ordering: .relaxed)
    messages.signal(
      address: msiAddress.load(ordering: .relaxed), data: msiData.load(ordering: .relaxed))
  }

  private func releaseHeld() {
    guard let messages else { return }
    for vector in vectors
    where !vector.isMasked && vector.pending.exchange(false, ordering: .acquiringAndReleasing) {
      send(vector, to: messages)
    }
  }
}
