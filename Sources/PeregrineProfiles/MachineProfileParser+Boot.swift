/// `<kernel>`, `<initrd>`, `<cmdline>` and `<flat>`: what the VM boots.
extension MachineProfileParser {
  static func parseBoot(
    _ root: XMLElementNode, _ children: [String: XMLElementNode], reader: inout ElementReader
  ) -> MachineProfile.Boot? {
    let kernel = children["kernel"]
    let flat = children["flat"]
    if let kernel, let flat {
      reader.report(
        .conflict,
        "a profile boots either a <kernel> or a <flat> image, not both (<kernel> is on line \(kernel.position.line))",
        at: flat)
      return nil
    }
    if let flat {
      for name in ["initrd", "cmdline"] {
        if let element = children[name] {
          reader.report(
            .conflict, "<\(name)> goes with a Linux <kernel>, not with a <flat> image", at: element)
        }
      }
      return parseFlat(flat, reader: &reader)
    }
    guard kernel != nil else {
      let hint =
        children["image"] != nil
        ? "; the node has no virtual disk to boot <image> from yet" : ""
      reader.report(
        .missingElement,
        "<profile> has no <kernel> (a Linux bzImage) or <flat> image to boot\(hint)", at: root)
      return nil
    }
    guard let text = reader.requiredText("kernel", in: root, from: children), let kernel else {
      return nil
    }
    let path = reader.resolvedPath(text, for: kernel)
    var initrd: String? = nil
    if let element = children["initrd"] {
      let text = reader.leafText(element)
      if text.isEmpty {
        reader.report(.missingElement, "<initrd> is empty", at: element)
      } else {
        initrd = reader.resolvedPath(text, for: element)
      }
    }
    var commandLine = ""
    if let element = children["cmdline"] {
      commandLine = reader.leafText(element)
      if commandLine.utf8.count > maximumCommandLineBytes {
        reader.report(
          .outOfRange,
          "<cmdline> has \(commandLine.utf8.count) bytes; Linux takes at most \(maximumCommandLineBytes)",
          at: element)
      }
      if commandLine.unicodeScalars.contains(where: {
        $0.value < 0x20 && $0 != "\t" && $0 != "\n" || $0.value == 0x7F
      }) {
        reader.report(.invalidValue, "<cmdline> contains control characters", at: element)
      }
      // Line breaks in the XML are only layout: the guest sees one line of words.
      commandLine = commandLine.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        .joined(separator: " ")
    }
    return .linux(kernel: path, initrd: initrd, commandLine: commandLine)
  }

  static func parseFlat(_ element: XMLElementNode, reader: inout ElementReader) -> MachineProfile
    .Boot?
  {
    let path = reader.leafText(element, allowedAttributes: ["load", "entry"])
    var valid = true
    if path.isEmpty {
      reader.report(.missingElement, "<flat> is empty; it holds the image's path", at: element)
      valid = false
    }
    var load: UInt64 = 0x1000
    if let text = element.attribute("load") {
      if let value = parseNumber(text), value < 1 << 20 {
        load = value
      } else {
        reader.report(
          .invalidValue,
          "<flat load='\(abbreviated(text))'> must be an address below 1 MiB (e.g. 0x1000)",
          at: element)
        valid = false
      }
    }
    var segment: UInt16 = 0
    var offset: UInt16 = 0x1000
    if let text = element.attribute("entry") {
      let parts = text.split(separator: ":", omittingEmptySubsequences: false)
      if parts.count == 2, parts.allSatisfy({ $0.count >= 1 && $0.count <= 4 }),
        let s = UInt16(parts[0], radix: 16), let o = UInt16(parts[1], radix: 16)
      {
        segment = s
        offset = o
      } else {
        reader.report(
          .invalidValue,
          "<flat entry='\(abbreviated(text))'> must be SEGMENT:OFFSET in hexadecimal (e.g. 0000:1000)",
          at: element)
        valid = false
      }
    }
    return valid
      ? .flat(
        image: reader.resolvedPath(path, for: element), loadAddress: load, entrySegment: segment,
        entryOffset: offset) : nil
  }
}
