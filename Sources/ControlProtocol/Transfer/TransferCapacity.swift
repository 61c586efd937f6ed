/// Whether a node has room for an image about to be transferred: its bytes in whole 4 KiB
/// frames, plus `reserve` left for the VM's own memory and page tables. Refused with the
/// numbers in words, before anything is allocated (issue 13: "an image larger than the
/// node can hold, refused at create with the reason").
public enum TransferCapacity {
  /// Kept free beyond the image: a VM needs frames for its page tables and control blocks.
  public static let reserve: UInt64 = 1 << 20

  public static func refusal(imageBytes: UInt64, freeBytes: UInt64) -> ControlFailure? {
    let needed = (imageBytes + 4095) / 4096 * 4096
    guard needed > freeBytes || freeBytes - needed < reserve else { return nil }
    var text = Array("the image needs ".utf8)
    text += mebibytes(imageBytes)
    text += Array(" MiB and the node has ".utf8)
    text += mebibytes(freeBytes)
    text += Array(" MiB free".utf8)
    return ControlFailure(.insufficientMemory, detail: text)
  }

  /// Whole MiB, rounded down.
  static func mebibytes(_ bytes: UInt64) -> [UInt8] {
    var digits: [UInt8] = []
    var rest = bytes >> 20
    repeat {
      digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
      rest /= 10
    } while rest > 0
    return digits.reversed()
  }
}
