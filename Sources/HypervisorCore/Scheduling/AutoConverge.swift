/// Auto-converge (docs/migration.md, "Auto-converge"): a guest that dirties its memory
/// faster than pre-copy rounds copy it never gets below `--downtime-pages`, and its
/// stop-and-copy moves thousands of pages with the VM paused. As KVM/QEMU do, the source
/// then holds the VM's vCPUs out of the CPU for a growing share of the time: each round that
/// did not halve the dirty set raises the throttle (20 %, then +10 % a round, at most 99 %),
/// and the end of the migration, or its failure, lifts it.
public enum AutoConverge {
  public static let firstPercent = 20
  public static let stepPercent = 10
  public static let mostPercent = 99

  /// The throttle after a round that found `pages` dirty pages, the round before having
  /// found `previous` (nil: round 0, the whole memory, which says nothing of the rate).
  public static func next(current: Int, previous: Int?, pages: Int) -> Int {
    guard let previous, pages * 2 > previous else { return current }
    return current == 0 ? firstPercent : min(current + stepPercent, mostPercent)
  }

  /// How long a vCPU that ran `ran` cycles stays out so that it runs `100 - percent` % of
  /// the time: ran * p / (100 - p).
  public static func hold(ran: UInt64, percent: Int) -> UInt64 {
    let p = UInt64(min(max(percent, 0), mostPercent))
    guard p > 0 else { return 0 }
    let (product, overflow) = ran.multipliedReportingOverflow(by: p)
    return overflow ? UInt64.max / 2 : product / (100 - p)
  }
}
