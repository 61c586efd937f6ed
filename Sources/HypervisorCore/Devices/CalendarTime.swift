/// A UTC date and time of day, to and from seconds since 1970-01-01 00:00:00 UTC, in the
/// proleptic Gregorian calendar. Days are counted in 400-year eras of 146 097 days, with the
/// year starting on 1 March so that the leap day is the last day of a year: a month's first
/// day is then (153 × month + 2) / 5 days into its year, months counted from March.
public struct CalendarTime: Equatable {
  public var year: Int
  /// 1-12.
  public var month: Int
  /// 1-31.
  public var day: Int
  public var hour: Int
  public var minute: Int
  public var second: Int

  public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
    self.year = year
    self.month = month
    self.day = day
    self.hour = hour
    self.minute = minute
    self.second = second
  }

  /// Days between 1970-01-01 and 0000-03-01.
  private static let epochDay = 719_468
  private static let daysPerEra = 146_097

  public init(secondsSinceEpoch seconds: Int64) {
    let days = Int(Self.floorDivide(seconds, 86_400))
    let secondOfDay = Int(seconds - Int64(days) * 86_400)
    hour = secondOfDay / 3600
    minute = secondOfDay / 60 % 60
    second = secondOfDay % 60
    let shifted = days + Self.epochDay
    let era = Self.floorDivide(Int64(shifted), Int64(Self.daysPerEra))
    let dayOfEra = shifted - Int(era) * Self.daysPerEra  // 0-146096
    let yearOfEra =
      (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365  // 0-399
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // from 1 March
    let marchMonth = (5 * dayOfYear + 2) / 153  // 0 = March ... 11 = February
    day = dayOfYear - (153 * marchMonth + 2) / 5 + 1
    month = marchMonth < 10 ? marchMonth + 3 : marchMonth - 9
    year = yearOfEra + Int(era) * 400 + (month <= 2 ? 1 : 0)
  }

  /// Seconds since the epoch; nil when a field is out of range (month 13, 31 April, 29
  /// February of a common year, hour 24).
  public var secondsSinceEpoch: Int64? {
    guard (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day),
      (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
    else { return nil }
    let marchYear = month <= 2 ? year - 1 : year
    let era = Self.floorDivide(Int64(marchYear), 400)
    let yearOfEra = marchYear - Int(era) * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    let days = Int64(era) * Int64(Self.daysPerEra) + Int64(dayOfEra - Self.epochDay)
    return days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
  }

  /// 1 = Sunday ... 7 = Saturday (1970-01-01 was a Thursday).
  public var weekday: Int {
    guard let seconds = secondsSinceEpoch else { return 1 }
    let days = Self.floorDivide(seconds, 86_400)
    return Int(((days + 4) % 7 + 7) % 7) + 1
  }

  public static func isLeap(_ year: Int) -> Bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
  }

  public static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: return isLeap(year) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }

  private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
    let quotient = value / divisor
    return value % divisor < 0 ? quotient - 1 : quotient
  }
}

/// Two decimal digits in a byte, tens in the high nibble: how an RTC keeps its time fields
/// unless told binary (MC146818A register B, DM).
public enum BinaryCodedDecimal {
  /// nil when a nibble is above 9.
  public static func decode(_ byte: UInt8) -> Int? {
    guard byte >> 4 <= 9, byte & 0xF <= 9 else { return nil }
    return Int(byte >> 4) * 10 + Int(byte & 0xF)
  }

  /// `value` in 0-99.
  public static func encode(_ value: Int) -> UInt8 { UInt8((value / 10) << 4 | value % 10) }
}
