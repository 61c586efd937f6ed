/// The kernel's symbol table, which the Makefile generates from the linked ELF
/// (`llvm-nm -n`, demangled) and GRUB hands over as the multiboot2 module named "symbols".
/// Each line is "<16 hex digits> <type> <name>", sorted by address. Lookups scan the text
/// in place: they run only when something has already gone wrong, and must not allocate.
enum Symbols {
  static var table: UnsafeRawBufferPointer?

  /// The symbol containing `address`: the last symbol at or below it.
  static func lookup(_ address: UInt64) -> (name: UnsafeRawBufferPointer, offset: UInt64)? {
    guard let table else { return nil }
    var best: (start: Int, end: Int, address: UInt64)?
    var lineStart = 0
    while lineStart < table.count {
      var lineEnd = lineStart
      while lineEnd < table.count && table[lineEnd] != 0x0A { lineEnd += 1 }
      if lineEnd - lineStart > 19, let symbolAddress = parseHex(table, lineStart, 16) {
        if symbolAddress > address { break }
        best = (lineStart + 19, lineEnd, symbolAddress)
      }
      lineStart = lineEnd + 1
    }
    guard let best else { return nil }
    let name = UnsafeRawBufferPointer(rebasing: table[best.start..<best.end])
    return (name, address - best.address)
  }

  private static func parseHex(_ text: UnsafeRawBufferPointer, _ start: Int, _ count: Int)
    -> UInt64?
  {
    var value: UInt64 = 0
    for index in start..<start + count {
      let c = text[index]
      let digit: UInt8
      switch c {
      case 0x30...0x39: digit = c - 0x30
      case 0x61...0x66: digit = c - 0x57
      case 0x41...0x46: digit = c - 0x37
      default: return nil
      }
      value = value << 4 | UInt64(digit)
    }
    return value
  }
}
