/// The hypervisor console: every line goes to COM1, with "\n" sent as CR LF. Formatting
/// is done by hand with no allocation, so the console works before the heap does and from
/// inside an exception handler.
enum Console {
  static var port = SerialPort.com1

  /// Every write reaches the port here, under the console lock (ConsoleLock): CPUs'
  /// characters never mix.
  static func write(_ byte: UInt8) {
    ConsoleLock.acquire()
    if byte == 0x0A { port.write(0x0D) }
    port.write(byte)
    ConsoleLock.release()
  }

  /// Runs `body` holding the console: a report of several lines stays together while other
  /// CPUs print (each of their lines waits; ConsoleLock nests on this CPU).
  static func together(_ body: () -> Void) {
    ConsoleLock.acquire()
    body()
    ConsoleLock.release()
  }

  static func write(_ text: StaticString) {
    text.withUTF8Buffer { for byte in $0 { write(byte) } }
  }

  static func write(_ text: String) {
    var text = text
    text.withUTF8 { for byte in $0 { write(byte) } }
  }

  static func write(bytes: [UInt8]) {
    for byte in bytes { write(byte) }
  }

  static func write(decimal value: UInt64) {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 20 digits, no heap
    var count = 0
    var rest = value
    withUnsafeMutableBytes(of: &digits) { buffer in
      repeat {
        buffer[count] = UInt8(truncatingIfNeeded: rest % 10) + 0x30
        rest /= 10
        count += 1
      } while rest != 0
      while count > 0 {
        count -= 1
        write(buffer[count])
      }
    }
  }

  static func write(signed value: Int64) {
    if value < 0 {
      write(UInt8(ascii: "-"))
      write(decimal: UInt64(bitPattern: 0 &- value))
    } else {
      write(decimal: UInt64(value))
    }
  }

  /// Hexadecimal with a 0x prefix, `digits` wide (zero padded), or as short as possible.
  static func write(hex value: UInt64, digits: Int = 0) {
    write("0x")
    var started = false
    var shift = 60
    while shift >= 0 {
      let nibble = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 0xF)
      if nibble != 0 || started || shift / 4 < digits || shift == 0 {
        started = true
        write(nibble < 10 ? nibble + 0x30 : nibble + 0x57)
      }
      shift -= 4
    }
  }

  /// One line of a register dump: "<indent>name = 0x<16 hex digits>".
  static func write(field name: StaticString, _ value: UInt64, indent: Int) {
    for _ in 0..<indent { write(UInt8(ascii: " ")) }
    write(name)
    write(" = ")
    write(hex: value, digits: 16)
    write(0x0A)
  }

  /// A size in the largest binary unit that keeps it whole, e.g. "512 MiB".
  static func write(size bytes: UInt64) {
    if bytes >= 1 << 30 && bytes % (1 << 30) == 0 {
      write(decimal: bytes >> 30)
      write(" GiB")
    } else if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
      write(decimal: bytes >> 20)
      write(" MiB")
    } else if bytes >= 1 << 10 && bytes % (1 << 10) == 0 {
      write(decimal: bytes >> 10)
      write(" KiB")
    } else {
      write(decimal: bytes)
      write(" B")
    }
  }
}
