/// The Single Root I/O Virtualization extended capability of a physical function (PCIe
/// Base 4.0 §9.3.3, capability ID 0x0010): how many virtual functions (VFs) it can have,
/// where their routing IDs fall, and their BARs, which live here (one register set for all
/// VFs, each VF's aperture `size` apart) rather than in the VFs' own headers (§9.3.4.1.11:
/// those read 0). The capability's bytes come from the device: every count, offset and
/// size is checked before anything is derived from it.
public struct SRIOVCapability: Equatable, Sendable {
  /// Where the capability's header is (0x100-0xFC0).
  public var offset: UInt16
  public var capabilities: UInt32
  public var control: UInt16
  public var initialVFs: UInt16
  public var totalVFs: UInt16
  public var numVFs: UInt16
  public var functionDependencyLink: UInt8
  /// §9.3.3.9/10: both may change when NumVFs or ARI Capable Hierarchy is written, so they
  /// are read again after NumVFs is set.
  public var firstVFOffset: UInt16
  public var vfStride: UInt16
  public var vfDeviceID: UInt16
  public var supportedPageSizes: UInt32
  public var systemPageSize: UInt32
  /// VF BAR0-5 as one VF sees it: the base programmed for VF 1 and one VF's size (under the
  /// current System Page Size). A 64-bit BAR takes two slots; the second is `.unused`.
  public var bars: [PCIBaseAddress]

  /// Register offsets from the capability's header (§9.3.3, figure 9-10).
  public enum Register {
    public static let capabilities: UInt16 = 0x04
    public static let control: UInt16 = 0x08
    public static let status: UInt16 = 0x0A
    public static let initialVFs: UInt16 = 0x0C
    public static let totalVFs: UInt16 = 0x0E
    public static let numVFs: UInt16 = 0x10
    public static let functionDependencyLink: UInt16 = 0x12
    public static let firstVFOffset: UInt16 = 0x14
    public static let vfStride: UInt16 = 0x16
    public static let vfDeviceID: UInt16 = 0x1A
    public static let supportedPageSizes: UInt16 = 0x1C
    public static let systemPageSize: UInt16 = 0x20
    public static let vfBAR0: UInt16 = 0x24
  }

  /// SR-IOV Control bits (§9.3.3.3).
  public enum Control {
    public static let vfEnable: UInt16 = 1 << 0
    public static let vfMemorySpaceEnable: UInt16 = 1 << 3
    public static let ariCapableHierarchy: UInt16 = 1 << 4
  }

  /// The capability's length: through the VF Migration State Array Offset at 0x3C.
  public static let length: UInt16 = 0x40

  /// Reads the capability at `offset` and sizes its VF BARs (each written with all ones,
  /// read back and restored, VF MSE off meanwhile, as for a function's own BARs, PCI Local
  /// Bus 3.0 §6.2.5.1). Nil when the capability would run past the 4 KiB space.
  public init?<Space: PCIExpressConfigurationSpace>(_ space: Space, at offset: UInt16) {
    guard offset >= 0x100, offset <= 0x1000 - Self.length else { return nil }
    self.offset = offset
    capabilities = space.read32(offset + Register.capabilities)
    control = space.read16(offset + Register.control)
    initialVFs = space.read16(offset + Register.initialVFs)
    totalVFs = space.read16(offset + Register.totalVFs)
    numVFs = space.read16(offset + Register.numVFs)
    functionDependencyLink = UInt8(
      truncatingIfNeeded: space.read16(offset + Register.functionDependencyLink))
    firstVFOffset = space.read16(offset + Register.firstVFOffset)
    vfStride = space.read16(offset + Register.vfStride)
    vfDeviceID = space.read16(offset + Register.vfDeviceID)
    supportedPageSizes = space.read32(offset + Register.supportedPageSizes)
    systemPageSize = space.read32(offset + Register.systemPageSize)
    space.write16(offset + Register.control, control & ~Control.vfMemorySpaceEnable)
    bars = Self.sizeBARs(space, at: offset + Register.vfBAR0)
    space.write16(offset + Register.control, control)
  }

  /// The capability's offset in the function's extended list, if it has one.
  public static func find<Space: PCIExpressConfigurationSpace>(_ space: Space) -> UInt16? {
    PCIExtendedCapability.list(space).first { $0.id == PCIExtendedCapability.singleRootIOV }?
      .offset
  }

  public var vfEnabled: Bool { control & Control.vfEnable != 0 }
  public var vfMemoryEnabled: Bool { control & Control.vfMemorySpaceEnable != 0 }

  /// The System Page Size in bytes (§9.3.3.13: bit n set means 2^(n+12)); nil unless
  /// exactly one bit is set.
  public var pageSize: UInt64? {
    guard systemPageSize != 0, systemPageSize & (systemPageSize - 1) == 0 else { return nil }
    return 4096 << UInt64(systemPageSize.trailingZeroBitCount)
  }

  /// The routing IDs of VFs 1...`count` (§9.3.3.9, §9.3.3.10: PF's routing ID + First VF
  /// Offset + (n - 1) × VF Stride, all 16-bit), as addresses; or why they can't be used.
  /// VFs must stay on the PF's bus: one beyond it would need the upstream bridge's bus range
  /// widened, which this does not do.
  public func virtualFunctions(of physical: PCIAddress, count: Int) throws(SRIOVError)
    -> [PCIAddress]
  {
    guard count >= 1, count <= Int(totalVFs) else {
      throw .vfCountOutOfRange(requested: count, total: Int(totalVFs))
    }
    guard firstVFOffset != 0 else { throw .firstOffsetZero }
    guard count == 1 || vfStride != 0 else { throw .strideZero }
    let base = Int(physical.routingID)
    var result: [PCIAddress] = []
    for index in 0..<count {
      let id = base + Int(firstVFOffset) + index * Int(vfStride)
      guard id <= 0xFFFF else { throw .routingIDOverflow(vf: index + 1) }
      let address = PCIAddress(routingID: UInt16(id))
      guard address.bus == physical.bus else { throw .vfBeyondBus(vf: index + 1, bus: address.bus) }
      result.append(address)
    }
    return result
  }

  /// Where VF `vf` (1-based) has BAR `index`, given the base programmed in the PF: VF n's
  /// aperture is the (n-1)th `size`-sized slice of the region (§9.3.3.14).
  public func vfBAR(_ index: Int, vf: Int) -> (base: UInt64, size: UInt64)? {
    guard index >= 0, index < bars.count, vf >= 1,
      case .memory(let base, let size, _, _) = bars[index]
    else { return nil }
    return (base &+ UInt64(vf - 1) &* size, size)
  }

  /// The memory each VF BAR needs for `count` VFs: one VF's size times the count, aligned
  /// to one VF's size (the per-VF BAR decodes its size's naturally aligned slices). Throws
  /// on a BAR no VF could use: an I/O VF BAR (§9.3.3.14: memory only), a size that is not a
  /// power of two or not a multiple of the System Page Size, or a 32-bit BAR whose region
  /// would not fit below 4 GiB.
  public func regions(count: Int) throws(SRIOVError) -> [(index: Int, size: UInt64, is64Bit: Bool)]
  {
    var result: [(index: Int, size: UInt64, is64Bit: Bool)] = []
    let page = pageSize ?? 4096
    for (index, bar) in bars.enumerated() {
      switch bar {
      case .unused: continue
      case .io: throw .ioBAR(index: index)
      case .memory(_, let size, let is64Bit, _):
        guard size & (size &- 1) == 0, size % page == 0 else {
          throw .badBARSize(index: index, size: size)
        }
        let (total, overflow) = size.multipliedReportingOverflow(by: UInt64(count))
        guard !overflow, is64Bit || total <= 1 << 32 else {
          throw .badBARSize(index: index, size: size)
        }
        result.append((index, total, is64Bit))
      }
    }
    return result
  }

  /// Turns `count` VFs on (§9.3.3.3.1): VF Enable and VF MSE off, NumVFs written, each VF
  /// BAR given its region's base, then VF Enable and, once the caller has waited the 100 ms
  /// §9.3.3.3.1 allows the PF, `enableMemory` sets VF MSE. Returns the capability as read
  /// back (First VF Offset and VF Stride for this NumVFs).
  public static func enable<Space: PCIExpressConfigurationSpace>(
    _ space: Space, at offset: UInt16, count: UInt16, bases: [(index: Int, base: UInt64)]
  ) -> SRIOVCapability? {
    let control = space.read16(offset + Register.control)
    space.write16(
      offset + Register.control,
      control & ~(Control.vfEnable | Control.vfMemorySpaceEnable))
    space.write16(offset + Register.numVFs, count)
    for (index, base) in bases where index >= 0 && index < 6 {
      let register = offset + Register.vfBAR0 + UInt16(4 * index)
      let low = space.read32(register)
      space.write32(register, UInt32(truncatingIfNeeded: base) & ~0xF | low & 0xF)
      if (low >> 1) & 0x3 == 0x2 && index < 5 {
        space.write32(register + 4, UInt32(truncatingIfNeeded: base >> 32))
      }
    }
    space.write16(
      offset + Register.control,
      space.read16(offset + Register.control) & ~Control.vfMemorySpaceEnable | Control.vfEnable)
    return SRIOVCapability(space, at: offset)
  }

  /// Sets VF MSE: every enabled VF decodes its BAR apertures (§9.3.3.3.4).
  public static func enableMemory<Space: PCIExpressConfigurationSpace>(
    _ space: Space, at offset: UInt16
  ) {
    space.write16(
      offset + Register.control,
      space.read16(offset + Register.control) | Control.vfMemorySpaceEnable)
  }

  private static func sizeBARs<Space: PCIExpressConfigurationSpace>(
    _ space: Space, at first: UInt16
  ) -> [PCIBaseAddress] {
    // An I/O VF BAR is not allowed (§9.3.3.14); decoded anyway so that `regions` refuses it.
    PCIBaseAddress.sized(slots: 6) { index in
      let register = first + UInt16(4 * index)
      let value = space.read32(register)
      return (value, probe(space, register, keeping: value))
    }
  }

  private static func probe<Space: PCIExpressConfigurationSpace>(
    _ space: Space, _ register: UInt16, keeping original: UInt32
  ) -> UInt32 {
    space.write32(register, 0xFFFF_FFFF)
    let mask = space.read32(register)
    space.write32(register, original)
    return mask
  }
}

/// Why a physical function's VFs cannot be used as its SR-IOV capability describes them.
public enum SRIOVError: Error, Equatable, Sendable {
  case vfCountOutOfRange(requested: Int, total: Int)
  case firstOffsetZero
  case strideZero
  case routingIDOverflow(vf: Int)
  case vfBeyondBus(vf: Int, bus: UInt8)
  case ioBAR(index: Int)
  case badBARSize(index: Int, size: UInt64)

  public var message: StaticString {
    switch self {
    case .vfCountOutOfRange: "NumVFs would exceed TotalVFs (or be 0)"
    case .firstOffsetZero: "First VF Offset is 0: the first VF would be the PF itself"
    case .strideZero: "VF Stride is 0 with more than one VF: every VF would share one routing ID"
    case .routingIDOverflow: "a VF's routing ID would pass 0xFFFF"
    case .vfBeyondBus:
      "a VF's routing ID lies on a bus beyond the PF's (the bridge's bus range is not widened)"
    case .ioBAR: "a VF BAR is an I/O BAR, which SR-IOV does not allow"
    case .badBARSize: "a VF BAR's size is not a power of two and System Page Size multiple"
    }
  }
}

extension PCIAddress {
  /// The 16-bit routing ID (requester ID): bus 15:8, device 7:3, function 2:0 (PCIe Base
  /// 4.0 §2.2.6.2).
  public var routingID: UInt16 { UInt16(bus) << 8 | UInt16(device) << 3 | UInt16(function) }

  public init(routingID: UInt16) {
    self.init(
      bus: UInt8(routingID >> 8), device: UInt8((routingID >> 3) & 0x1F),
      function: UInt8(routingID & 0x7))
  }
}
