/// The first record of a VM's saved state: the VM's memory size and how many vCPU and
/// device records follow it, vCPUs first (docs/vm-state.md, "A VM's saved state").
public struct VMStateHeader: Equatable, StateRecordEncodable {
  public var memorySize: UInt64
  public var vcpuCount: Int
  public var deviceCount: Int

  /// Bounds that keep a decoder from trusting a count the bytes cannot hold.
  public static let maximumVCPUs = 256
  public static let maximumDevices = 1024

  public init(memorySize: UInt64, vcpuCount: Int, deviceCount: Int) {
    self.memorySize = memorySize
    self.vcpuCount = vcpuCount
    self.deviceCount = deviceCount
  }

  public static var recordKind: StateRecordKind { .vm }

  public func encodePayload(into writer: inout StateWriter) {
    writer.u64(memorySize)
    writer.u16(UInt16(clamping: vcpuCount))
    writer.u16(UInt16(clamping: deviceCount))
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    let memory = try reader.u64()
    try reader.check(memory % 4096 == 0, fieldSize: 8)
    let vcpusAt = reader.position
    let vcpus = Int(try reader.u16())
    guard (1...maximumVCPUs).contains(vcpus) else {
      throw .countOutOfRange(at: vcpusAt, count: vcpus, maximum: maximumVCPUs)
    }
    let devicesAt = reader.position
    let devices = Int(try reader.u16())
    guard devices <= maximumDevices else {
      throw .countOutOfRange(at: devicesAt, count: devices, maximum: maximumDevices)
    }
    return Self(memorySize: memory, vcpuCount: vcpus, deviceCount: devices)
  }
}
