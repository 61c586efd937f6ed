/// The 8254 programmable interval timer (Intel 82C54 data sheet) on ports 0x40-0x43, and the
/// channel-2 gate and output bits of port 0x61 (the PC's "port B"): what operating systems
/// use to calibrate the TSC and the local APIC timer. Counters run at 1.193182 MHz, derived
/// from the guest clock when read, so the model costs nothing between accesses. Channel 0's
/// interrupt (IRQ 0) is not delivered: guests tick from their local APIC timer.
public final class PIT8254: PortDevice, GuestTimedDevice {
  public static let frequency: UInt64 = 1_193_182

  struct Channel {
    var mode: UInt8 = 0
    /// Access mode: 1 low byte, 2 high byte, 3 low then high.
    var access: UInt8 = 3
    var reload: UInt32 = 0x1_0000
    var loadedAt: UInt64 = 0
    var counting = false
    var writeHigh = false
    var readHigh = false
    var latched: UInt16?
    var pendingLow: UInt8 = 0
  }

  private let clock: any GuestClock
  private var channels = [Channel(), Channel(), Channel()]
  private var portB: UInt8 = 0

  public init(clock: any GuestClock) { self.clock = clock }

  /// Guest time stood still for `cycles` (a pause): every counter resumes where it stopped.
  public func shiftTime(by cycles: UInt64) {
    for index in channels.indices where channels[index].counting {
      channels[index].loadedAt &+= cycles
    }
  }

  /// Ticks since the counter was loaded, when it counts (channel 2 only while gated on).
  private func elapsed(_ channel: Channel) -> UInt64 {
    guard channel.counting else { return 0 }
    return clock.ticks(at: Self.frequency, since: channel.loadedAt)
  }

  /// The counter's current value: modes 2 and 3 reload at zero; mode 0 wraps through 0xFFFF.
  func count(_ index: Int) -> UInt16 {
    let channel = channels[index]
    let ticks = elapsed(channel)
    let reload = UInt64(channel.reload)
    switch channel.mode {
    case 2, 3, 6, 7:
      return UInt16(truncatingIfNeeded: reload - ticks % reload)
    default:
      return UInt16(truncatingIfNeeded: (reload &- ticks) & 0xFFFF)
    }
  }

  /// OUT: in mode 0 it rises at terminal count; in mode 3 it is high for the first half.
  func output(_ index: Int) -> Bool {
    let channel = channels[index]
    guard channel.counting else { return channel.mode != 0 }
    let ticks = elapsed(channel)
    let reload = UInt64(channel.reload)
    switch channel.mode {
    case 0, 1: return ticks >= reload
    case 3: return ticks % reload < (reload + 1) / 2
    default: return ticks % reload != reload - 1
    }
  }

  public func read(port: UInt16, size: UInt8) -> UInt32 {
    switch port {
    case 0x40...0x42:
      let index = Int(port - 0x40)
      let value = channels[index].latched ?? count(index)
      switch channels[index].access {
      case 1:
        channels[index].latched = nil
        return UInt32(value & 0xFF)
      case 2:
        channels[index].latched = nil
        return UInt32(value >> 8)
      default:
        let high = channels[index].readHigh
        channels[index].readHigh.toggle()
        if high { channels[index].latched = nil }
        return UInt32(high ? value >> 8 : value & 0xFF)
      }
    case 0x61:
      // Bit 0 gate 2, bit 1 speaker, bit 5 OUT2, bit 4 refresh toggle (some code polls it).
      let refresh: UInt8 = clock.ticks(at: 66_667, since: 0) & 1 != 0 ? 0x10 : 0
      return UInt32(portB & 0x03 | (output(2) ? 0x20 : 0) | refresh)
    default:
      return 0xFF
    }
  }

  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect {
    let byte = UInt8(truncatingIfNeeded: value)
    switch port {
    case 0x40...0x42:
      load(Int(port - 0x40), byte)
    case 0x43:
      control(byte)
    case 0x61:
      let wasGated = portB & 1 != 0
      portB = byte & 0x0F
      // A rising gate restarts channel 2 in the modes that gate triggers (1, 5) and, for
      // simplicity and as calibration code expects, in mode 0 too.
      if !wasGated && byte & 1 != 0 {
        channels[2].loadedAt = clock.now
        channels[2].counting = true
      } else if byte & 1 == 0 && channels[2].mode == 0 {
        channels[2].counting = false
      }
    default:
      break
    }
    return .none
  }

  private func control(_ byte: UInt8) {
    let select = Int(byte >> 6)
    if select == 3 {
      // Read-back (bits 5 and 4 active low: latch count, latch status); count only here.
      if byte & 0x20 == 0 {
        for index in 0..<3 where byte & (0x02 << UInt8(index)) != 0 {
          channels[index].latched = count(index)
        }
      }
      return
    }
    let access = (byte >> 4) & 3
    if access == 0 {
      channels[select].latched = count(select)  // counter latch command
      channels[select].readHigh = false
      return
    }
    channels[select].access = access
    channels[select].mode = (byte >> 1) & 7
    channels[select].writeHigh = false
    channels[select].readHigh = false
    channels[select].latched = nil
    channels[select].counting = false
  }

  private func load(_ index: Int, _ byte: UInt8) {
    var channel = channels[index]
    var complete = true
    var value = UInt32(0)
    switch channel.access {
    case 1: value = UInt32(byte)
    case 2: value = UInt32(byte) << 8
    default:
      if channel.writeHigh {
        value = UInt32(channel.pendingLow) | UInt32(byte) << 8
        channel.writeHigh = false
      } else {
        channel.pendingLow = byte
        channel.writeHigh = true
        complete = false
      }
    }
    if complete {
      channel.reload = value == 0 ? 0x1_0000 : value
      channel.loadedAt = clock.now
      // Channel 2 counts only while its gate (port 0x61 bit 0) is high.
      channel.counting = index != 2 || portB & 1 != 0
    }
    channels[index] = channel
  }
}
