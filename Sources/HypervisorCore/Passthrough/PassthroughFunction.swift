/// A host PCI function a VM's profile hands to the guest (`<passthrough pci="0000:00:05.0"/>`,
/// docs/passthrough.md): segment, bus, device, function, written as `lspci -D` and Linux's
/// sysfs name them (hexadecimal `SSSS:BB:DD.F`; `BB:DD.F` means segment 0).
public struct PassthroughFunction: Equatable, Hashable {
  public let segment: UInt16
  public let bus: UInt8
  /// 0-31.
  public let device: UInt8
  /// 0-7.
  public let function: UInt8

  /// Nil for a device past 31 or a function past 7.
  public init?(segment: UInt16 = 0, bus: UInt8, device: UInt8, function: UInt8) {
    guard device < 32, function < 8 else { return nil }
    self.segment = segment
    self.bus = bus
    self.device = device
    self.function = function
  }

  /// Bits 7:3 device, 2:0 function: the low byte of a requester id (PCIe 3.0 §2.2.6.2).
  public var deviceFunction: UInt8 { device << 3 | function }

  /// `SSSS:BB:DD.F` or `BB:DD.F`, hexadecimal digits of either case; nil for anything else.
  public static func parse(_ text: [UInt8]) -> PassthroughFunction? {
    var fields: [[UInt8]] = [[]]
    var separators: [UInt8] = []
    for byte in text {
      if byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") {
        separators.append(byte)
        fields.append([])
      } else {
        fields[fields.count - 1].append(byte)
      }
    }
    let colon = UInt8(ascii: ":")
    let dot = UInt8(ascii: ".")
    let widths: [Int]
    switch separators {
    case [colon, colon, dot]: widths = [4, 2, 2, 1]
    case [colon, dot]: widths = [2, 2, 1]
    default: return nil
    }
    var values: [UInt64] = []
    for (field, width) in zip(fields, widths) {
      guard field.count >= 1, field.count <= width, let value = hexadecimal(field) else {
        return nil
      }
      values.append(value)
    }
    let segment = widths.count == 4 ? UInt16(values[0]) : 0
    let rest = values.suffix(3).map { $0 }
    return PassthroughFunction(
      segment: segment, bus: UInt8(rest[0]), device: UInt8(truncatingIfNeeded: rest[1]),
      function: UInt8(truncatingIfNeeded: rest[2]))
  }

  private static func hexadecimal(_ digits: [UInt8]) -> UInt64? {
    var value: UInt64 = 0
    for digit in digits {
      let nibble: UInt8
      switch digit {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
      default: return nil
      }
      value = value << 4 | UInt64(nibble)
    }
    return value
  }

  /// `0000:00:05.0`: the canonical spelling (lower-case, full width).
  public var text: [UInt8] {
    var text: [UInt8] = []
    func hex(_ value: UInt64, digits: Int) {
      for index in stride(from: digits - 1, through: 0, by: -1) {
        let nibble = UInt8(truncatingIfNeeded: value >> (UInt64(index) * 4)) & 0xF
        text.append(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
      }
    }
    hex(UInt64(segment), digits: 4)
    text.append(UInt8(ascii: ":"))
    hex(UInt64(bus), digits: 2)
    text.append(UInt8(ascii: ":"))
    hex(UInt64(device), digits: 2)
    text.append(UInt8(ascii: "."))
    hex(UInt64(function), digits: 1)
    return text
  }
}
