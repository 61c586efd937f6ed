import Foundation

/// Readable numbers for the text output (the JSON output keeps raw numbers).
public enum Formatting {
  /// 1536 -> "1.5 KiB", 268435456 -> "256 MiB".
  public static func bytes(_ value: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var unit = 0
    var scaled = Double(value)
    while scaled >= 1024 && unit < units.count - 1 {
      scaled /= 1024
      unit += 1
    }
    if unit == 0 { return "\(value) B" }
    if scaled == scaled.rounded() { return "\(Int(scaled)) \(units[unit])" }
    return String(format: "%.1f %@", scaled, units[unit])
  }

  /// 0.25 -> "0.25 s", 75 -> "1m15s", 90061 -> "1d1h1m".
  public static func seconds(_ value: Double) -> String {
    if value < 1 { return String(format: "%.2f s", value) }
    if value < 60 { return String(format: "%.1f s", value) }
    let total = Int(value)
    let days = total / 86400
    let hours = total / 3600 % 24
    let minutes = total / 60 % 60
    if days > 0 { return "\(days)d\(hours)h\(minutes)m" }
    if hours > 0 { return "\(hours)h\(minutes)m" }
    return "\(minutes)m\(total % 60)s"
  }

  /// Left-aligned columns, two spaces apart, the header first.
  public static func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows {
      for (index, cell) in row.enumerated() where index < widths.count {
        widths[index] = max(widths[index], cell.count)
      }
    }
    func line(_ cells: [String]) -> String {
      cells.enumerated().map { index, cell in
        index == cells.count - 1
          ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
      }.joined(separator: "  ")
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
  }

  public static func hex(_ value: UInt64, width: Int) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, width / 4 - digits.count)) + digits
  }
}

/// The transfer progress line `create` redraws on a terminal:
/// `vmlinuz  [=========>          ]  45%  12.0 MiB/26.5 MiB  5.1 MiB/s`.
public struct ProgressBar {
  public var width: Int

  public init(width: Int = 24) { self.width = width }

  public func render(_ progress: TransferProgress, elapsedSeconds: Double) -> String {
    let fraction =
      progress.totalBytes == 0
      ? 1 : min(1, Double(progress.sentBytes) / Double(progress.totalBytes))
    let filled = Int((fraction * Double(width)).rounded(.down))
    var bar = String(repeating: "=", count: filled)
    if filled < width { bar += ">" + String(repeating: " ", count: width - filled - 1) }
    let percent = Int((fraction * 100).rounded(.down))
    let rate = elapsedSeconds > 0 ? Double(progress.sentBytes) / elapsedSeconds : 0
    let percentText = String(repeating: " ", count: 3 - String(percent).count) + "\(percent)%"
    return
      "\(progress.file)  [\(bar)]  \(percentText)  \(Formatting.bytes(progress.sentBytes))/\(Formatting.bytes(progress.totalBytes))  \(Formatting.bytes(UInt64(rate)))/s"
  }
}

extension Formatting {
  /// A moment as ISO 8601 in UTC (e.g. a dead node's last answer).
  static func timestamp(_ date: Date) -> String {
    let format = ISO8601DateFormatter()
    format.timeZone = TimeZone(identifier: "UTC")
    return format.string(from: date)
  }
}
