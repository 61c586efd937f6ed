import HypervisorCore

/// `<passthrough pci="0000:00:05.0"/>`: host PCI functions for the guest (docs/passthrough.md).
/// Only the syntax is checked here; whether the node has the function and can give it is
/// the node's question, answered when the VM is created.
extension MachineProfileParser {
  /// As many as the node gives one VM (PassthroughClaims.maximumPerVM).
  public static let maximumPassthrough = PassthroughClaims.maximumPerVM

  static func parsePassthrough(_ root: XMLElementNode, reader: inout ElementReader)
    -> [PassthroughFunction]
  {
    var functions: [PassthroughFunction] = []
    for element in root.children where element.name == "passthrough" {
      _ = reader.leafText(element, allowedAttributes: ["pci"])
      guard let text = element.attribute("pci") else {
        reader.report(
          .missingAttribute,
          "<passthrough> has no pci=\"SEGMENT:BUS:DEVICE.FUNCTION\" attribute (e.g. pci=\"0000:00:05.0\")",
          at: element)
        continue
      }
      guard let function = PassthroughFunction.parse(Array(text.utf8)) else {
        reader.report(
          .invalidValue,
          "<passthrough pci='\(abbreviated(text))'> is not a PCI address such as 0000:00:05.0 (hexadecimal segment:bus:device.function, device 0-1f, function 0-7)",
          at: element)
        continue
      }
      if functions.contains(function) {
        reader.report(
          .duplicate, "<passthrough pci='\(text)'> names a function already passed through",
          at: element)
        continue
      }
      if functions.count == maximumPassthrough {
        reader.report(
          .outOfRange, "a VM has at most \(maximumPassthrough) <passthrough> functions",
          at: element)
        continue
      }
      functions.append(function)
    }
    return functions
  }
}
