/// LMSW m16 (`0F 01 /6` with a memory operand, SDM Vol 2 LMSW): the CR0 write intercept of
/// SVM without decode assists names no source, and `MoveToControlRegister` covers only the
/// register form; this finds the memory operand and the instruction's length so that the
/// handler can read the word from guest memory.
public enum LoadMachineStatusWordOperand {
  /// The operand and length, or nil when the bytes are not LMSW with a memory operand.
  public static func decode(_ bytes: InstructionBytes, width: GuestMode.Width)
    -> (operand: MemoryOperand, length: UInt8)?
  {
    var cursor = InstructionCursor(bytes)
    do throws(InstructionFetchError) {
      let prefixes = try InstructionPrefixes.read(from: &cursor, width: width)
      guard try cursor.next() == 0x0F, try cursor.next() == 0x01 else { return nil }
      let (modRM, memory) = try cursor.readMemoryOperand(
        prefixes: prefixes, addressSize: prefixes.addressSize(width: width), width: width)
      guard modRM.reg == 6, let memory else { return nil }
      return (memory, UInt8(cursor.position))
    } catch {
      return nil
    }
  }
}
