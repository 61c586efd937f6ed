/// Walks the frame-pointer chain (RBP -> saved RBP, return address) and prints each return
/// address with its symbol. The boot stub starts the chain with RBP = 0; a frame pointer
/// outside the kernel's memory ends the walk so a corrupt stack cannot fault the printer.
enum Backtrace {
  static let maximumFrames = 32

  static func print(fromFramePointer start: UInt64, firstAddress: UInt64? = nil) {
    Console.write("backtrace:\n")
    if let firstAddress { printFrame(firstAddress) }
    var framePointer = start
    var frames = 0
    while framePointer != 0 && frames < maximumFrames {
      guard framePointer & 7 == 0, KernelLayout.isKernelStackOrData(framePointer) else { break }
      let frame = UnsafePointer<UInt64>(bitPattern: UInt(framePointer))!
      let returnAddress = frame[1]
      if returnAddress == 0 { break }
      printFrame(returnAddress)
      framePointer = frame[0]
      frames += 1
    }
  }

  static func printFrame(_ address: UInt64) {
    Console.write("  ")
    Console.write(hex: address, digits: 16)
    if let symbol = Symbols.lookup(address) {
      Console.write(" ")
      for byte in symbol.name { Console.write(byte) }
      Console.write(" + ")
      Console.write(hex: symbol.offset)
    }
    Console.write("\n")
  }
}
