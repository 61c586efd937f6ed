/// `<nic1>` ... `<nic8>`: MAC, network, static address.
extension MachineProfileParser {
  /// N of `nicN`, for N from 1 to `maximumNICs`.
  static func nicIndex(_ name: String) -> Int? {
    guard name.hasPrefix("nic"), let index = Int(name.dropFirst(3)), index >= 1,
      index <= maximumNICs,
      !name.dropFirst(3).hasPrefix("0")
    else { return nil }
    return index
  }

  static func parseNICs(_ root: XMLElementNode, reader: inout ElementReader) -> [MachineProfile.NIC]
  {
    var nics: [MachineProfile.NIC] = []
    var seenMACs: [MACAddress: Int] = [:]
    var seenIndexes: Set<Int> = []
    for element in root.children {
      guard let index = nicIndex(element.name), !seenIndexes.contains(index) else { continue }
      seenIndexes.insert(index)
      reader.checkAttributes(of: element, allowed: [])
      let children = reader.children(of: element, allowed: ["mac", "network", "ip", "gateway"])
      guard let text = reader.requiredText("mac", in: element, from: children),
        let macElement = children["mac"]
      else {
        continue
      }
      let mac: MACAddress
      switch MACAddress.parse(text) {
      case .success(let parsed): mac = parsed
      case .failure(.syntax):
        reader.report(
          .invalidMAC,
          "MAC address '\(abbreviated(text))' is not six hexadecimal octets such as 52:54:00:12:34:56",
          at: macElement)
        continue
      case .failure(.multicast):
        reader.report(
          .invalidMAC,
          "MAC address \(text) is a multicast address (bit 0 of the first octet is set); a NIC needs a unicast address such as 52:54:00:12:34:56",
          at: macElement)
        continue
      case .failure(.allZero):
        reader.report(
          .invalidMAC, "MAC address \(text) is all zeros, which is no address", at: macElement)
        continue
      }
      if let other = seenMACs[mac] {
        reader.report(.duplicate, "MAC address \(mac) is also <nic\(other)>'s", at: macElement)
        continue
      }
      seenMACs[mac] = index
      var nic = MachineProfile.NIC(index: index, mac: mac)
      if let element = children["network"] {
        let name = reader.leafText(element)
        if name.isEmpty || name.utf8.count > 31 || !name.utf8.allSatisfy(isNameCharacter) {
          reader.report(
            .invalidValue,
            "<network> '\(abbreviated(name))' must be 1-31 characters of A-Z a-z 0-9 - _ .",
            at: element)
        } else {
          nic.network = name
        }
      }
      if let element = children["ip"] {
        let text = reader.leafText(element)
        if let address = IPv4Interface(text) {
          nic.address = address
        } else {
          reader.report(
            .invalidValue,
            "<ip> '\(abbreviated(text))' is not an IPv4 address with its prefix, such as 10.0.0.5/24",
            at: element)
        }
      }
      if let element = children["gateway"] {
        let text = reader.leafText(element)
        if let gateway = IPv4Address(text) {
          if let address = nic.address, !address.contains(gateway) {
            reader.report(
              .invalidValue, "<gateway> \(gateway) is outside the NIC's subnet \(address)",
              at: element)
          } else if children["ip"] == nil {
            reader.report(
              .conflict, "<gateway> needs an <ip> (without one the NIC uses DHCP)", at: element)
          } else {
            nic.gateway = gateway
          }
        } else {
          reader.report(
            .invalidValue, "<gateway> '\(abbreviated(text))' is not an IPv4 address", at: element)
        }
      }
      nics.append(nic)
    }
    return nics.sorted { $0.index < $1.index }
  }
}
