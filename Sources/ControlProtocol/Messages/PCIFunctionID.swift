/// A host PCI function on the wire (protocol version 5): segment, bus, and device/function
/// as a requester id's low byte (device 7:3, function 2:0), 4 bytes. A VM's specification
/// names the functions passed through to it; its status names the ones it owns.
public struct PCIFunctionID: Equatable, Hashable {
  public var segment: UInt16
  public var bus: UInt8
  public var deviceFunction: UInt8

  public static let encodedSize = 4

  public init(segment: UInt16, bus: UInt8, deviceFunction: UInt8) {
    self.segment = segment
    self.bus = bus
    self.deviceFunction = deviceFunction
  }

  public init(segment: UInt16 = 0, bus: UInt8, device: UInt8, function: UInt8) {
    self.init(segment: segment, bus: bus, deviceFunction: (device & 0x1F) << 3 | function & 7)
  }

  public var device: UInt8 { deviceFunction >> 3 }
  public var function: UInt8 { deviceFunction & 7 }

  func encode(into writer: inout WireWriter) {
    writer.u16(segment)
    writer.u8(bus)
    writer.u8(deviceFunction)
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> PCIFunctionID {
    let segment = try reader.u16()
    let bus = try reader.u8()
    return PCIFunctionID(segment: segment, bus: bus, deviceFunction: try reader.u8())
  }
}
