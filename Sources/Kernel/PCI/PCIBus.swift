import HypervisorCore
import PCI

/// One function found on the bus, decoded.
struct PCIFunction {
  let address: PCIAddress
  let header: PCIHeader
  let bars: [PCIBaseAddress]
  let capabilities: [PCICapability]

  var space: PortConfigurationSpace { PortConfigurationSpace(address: address) }
  /// Its requester id, the source id of its DMA and MSIs (VT-d §3.4.1).
  var requester: RequesterID {
    RequesterID(bus: address.bus, device: address.device, function: address.function)
  }
}

/// Finds every PCI function by brute force over buses 0-255, devices 0-31, and functions
/// 1-7 of multi-function devices (PCI Local Bus 3.0 §6.2.1: vendor ID 0xFFFF is "no
/// function"). 8,192 probes at most; run once, at boot, on the bootstrap processor.
enum PCIBus {
  static func enumerate() -> [PCIFunction] {
    var found: [PCIFunction] = []
    for bus in 0...255 {
      for device in 0..<32 {
        let first = PCIAddress(bus: UInt8(bus), device: UInt8(device), function: 0)
        guard let header = PCIHeader(PortConfigurationSpace(address: first)) else { continue }
        found.append(decode(first, header))
        guard header.isMultiFunction else { continue }
        for function in 1..<8 {
          let address = PCIAddress(
            bus: UInt8(bus), device: UInt8(device), function: UInt8(function))
          if let other = PCIHeader(PortConfigurationSpace(address: address)) {
            found.append(decode(address, other))
          }
        }
      }
    }
    return found
  }

  /// The function at `address`, decoded, or nil when none answers there. An SR-IOV VF the
  /// node enabled answers with vendor ID 0xFFFF (PCIe Base 4.0 §9.3.4.1.1): it comes from
  /// its PF's record instead, BARs included (SRIOVDevices).
  static func function(at address: PCIAddress) -> PCIFunction? {
    guard let header = PCIHeader(PortConfigurationSpace(address: address)) else {
      return SRIOVDevices.function(at: address)
    }
    return decode(address, header)
  }

  private static func decode(_ address: PCIAddress, _ header: PCIHeader) -> PCIFunction {
    let space = PortConfigurationSpace(address: address)
    return PCIFunction(
      address: address, header: header,
      bars: PCIBaseAddress.readAll(space, count: header.barCount),
      capabilities: PCICapability.list(space, header: header))
  }

  /// One line per function: "pci 00:03.0 1af4:1041 class 02.00 bar1 mem 0xfebd1000+0x1000
  /// bar4 mem64 pf 0xfe000000+0x4000 caps 11,09,...". At `level`, or when nil at info
  /// level if the machine has a network controller (the management NIC's neighbours are
  /// worth seeing) and at debug otherwise.
  static func log(_ functions: [PCIFunction], level chosen: LogLevel?) {
    let level =
      chosen ?? (functions.contains { $0.header.isNetworkController } ? LogLevel.info : .debug)
    for function in functions {
      guard Log.begin(level) else { return }
      Console.write("pci ")
      NetLog.hex(UInt64(function.address.bus), digits: 2)
      Console.write(":")
      NetLog.hex(UInt64(function.address.device), digits: 2)
      Console.write(".")
      Console.write(decimal: UInt64(function.address.function))
      Console.write(" ")
      NetLog.hex(UInt64(function.header.vendorID), digits: 4)
      Console.write(":")
      NetLog.hex(UInt64(function.header.deviceID), digits: 4)
      Console.write(" class ")
      NetLog.hex(UInt64(function.header.classCode), digits: 2)
      Console.write(".")
      NetLog.hex(UInt64(function.header.subclass), digits: 2)
      for (index, bar) in function.bars.enumerated() {
        switch bar {
        case .unused: continue
        case .io(let base, let size):
          Console.write(" bar")
          Console.write(decimal: UInt64(index))
          Console.write(" io ")
          Console.write(hex: UInt64(base))
          Console.write("+")
          Console.write(hex: UInt64(size))
        case .memory(let base, let size, let is64Bit, let prefetchable):
          Console.write(" bar")
          Console.write(decimal: UInt64(index))
          Console.write(is64Bit ? " mem64 " : " mem ")
          if prefetchable { Console.write("pf ") }
          Console.write(hex: base)
          Console.write("+")
          Console.write(hex: size)
        }
      }
      if !function.capabilities.isEmpty {
        Console.write(" caps")
        for (index, capability) in function.capabilities.enumerated() {
          Console.write(index == 0 ? " " : ",")
          NetLog.hex(UInt64(capability.id), digits: 2)
        }
      }
      Log.end()
    }
  }
}
