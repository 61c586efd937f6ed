/// Appends `value` in decimal ASCII: boot log lines and refusal messages are byte arrays.
func appendDecimalNumber(_ value: Int, to text: inout [UInt8]) {
  if value < 0 {
    text.append(UInt8(ascii: "-"))
    appendDecimalNumber(-value, to: &text)
    return
  }
  if value >= 10 { appendDecimalNumber(value / 10, to: &text) }
  text.append(UInt8(ascii: "0") + UInt8(value % 10))
}
