import CArch

/// A 16550 UART driven by polling: the hypervisor's console. Registers per the
/// PC16550D data sheet: THR/RBR at +0, LSR at +5 (bit 5: transmit holding register empty).
struct SerialPort {
  let base: UInt16

  static let com1 = SerialPort(base: 0x3F8)

  /// 115200 baud, 8N1, FIFOs on, interrupts off (the hypervisor polls).
  func initialize() {
    arch_outb(base + 1, 0x00)  // IER: no interrupts
    arch_outb(base + 3, 0x80)  // LCR: DLAB to set the divisor
    arch_outb(base + 0, 0x01)  // divisor 1 = 115200 baud
    arch_outb(base + 1, 0x00)
    arch_outb(base + 3, 0x03)  // 8 bits, no parity, one stop bit
    arch_outb(base + 2, 0xC7)  // FIFO on, cleared, 14-byte threshold
    arch_outb(base + 4, 0x03)  // DTR, RTS
  }

  func write(_ byte: UInt8) {
    while arch_inb(base + 5) & 0x20 == 0 { arch_pause() }
    arch_outb(base, byte)
  }
}
