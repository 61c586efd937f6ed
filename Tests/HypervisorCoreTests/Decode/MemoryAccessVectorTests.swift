import HypervisorCore
import XCTest

/// SSE and MMX moves on MMIO: decoding (GNU as encodings) and the move between memory and
/// the register's slot in the FXSAVE image.
final class MemoryAccessVectorTests: XCTestCase {
  private func decode(_ hex: String) -> DecodedMemoryAccess? {
    try? MemoryAccessDecoder.decode(instruction(hex), width: .long64).get()
  }

  private func move(_ hex: String) -> VectorMove? {
    guard case .vectorMove(let move) = decode(hex)?.instruction else { return nil }
    return move
  }

  func testDecodesTheMoves() {
    XCTAssertEqual(
      move("f3 0f 7f 0b"), VectorMove(file: .xmm, register: 1, size: 16, isStore: true))
    XCTAssertEqual(
      move("44 0f 28 0b"),
      VectorMove(file: .xmm, register: 9, size: 16, isStore: false, requiresAlignment: true))
    XCTAssertEqual(
      move("66 0f 29 13"),
      VectorMove(file: .xmm, register: 2, size: 16, isStore: true, requiresAlignment: true))
    XCTAssertEqual(move("0f 10 03"), VectorMove(file: .xmm, register: 0, size: 16, isStore: false))
    XCTAssertEqual(
      move("66 0f 11 1b"), VectorMove(file: .xmm, register: 3, size: 16, isStore: true))
    XCTAssertEqual(move("66 0f 6f 23")?.requiresAlignment, true, "MOVDQA")
    XCTAssertEqual(move("0f 7f 03"), VectorMove(file: .mmx, register: 0, size: 8, isStore: true))
    XCTAssertEqual(move("0f 6f 0b"), VectorMove(file: .mmx, register: 1, size: 8, isStore: false))
    XCTAssertEqual(move("66 0f 7e 03"), VectorMove(file: .xmm, register: 0, size: 4, isStore: true))
    XCTAssertEqual(move("66 48 0f 7e 03")?.size, 8, "REX.W: MOVQ")
    XCTAssertEqual(
      move("f3 0f 7e 2b"), VectorMove(file: .xmm, register: 5, size: 8, isStore: false))
    XCTAssertEqual(move("66 0f d6 2b"), VectorMove(file: .xmm, register: 5, size: 8, isStore: true))
    XCTAssertEqual(move("f3 0f 10 0b")?.size, 4, "MOVSS")
    XCTAssertEqual(move("f2 0f 11 0b")?.size, 8, "MOVSD")
    XCTAssertEqual(move("4c 0f 6f 0b")?.register, 1, "REX.R does not reach MMX registers")
    XCTAssertEqual(decode("f3 0f 7f 0b")?.length, 4)
    XCTAssertEqual(decode("f3 0f 7f 0b")?.accessSize, 16)
    XCTAssertEqual(decode("f3 0f 7f 0b")?.instruction.isStore, true)
    XCTAssertNil(decode("66 0f 6e c0"), "register operand: not MMIO")
    XCTAssertNil(decode("f2 0f 28 03"), "no F2 form of MOVAPS")
    XCTAssertNil(decode("0f 12 03"), "MOVLPS is not emulated")
  }

  private func image() -> UnsafeMutableRawPointer {
    let image = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
    image.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
    return image
  }

  func testAStoreWritesBothHalvesLowFirst() {
    let image = image()
    defer { image.deallocate() }
    image.storeBytes(of: 0x0000_0002_0000_0001, toByteOffset: 160 + 16, as: UInt64.self)
    image.storeBytes(of: 0x0000_0004_0000_0003, toByteOffset: 160 + 24, as: UInt64.self)
    var writes: [(UInt8, UInt8, UInt64)] = []
    MemoryAccessEmulator.executeVector(
      VectorMove(file: .xmm, register: 1, size: 16, isStore: true), image: image,
      read: { _, _ in
        XCTFail("a store reads nothing")
        return 0
      },
      write: { writes.append(($0, $1, $2)) })
    XCTAssertEqual(writes.count, 2)
    XCTAssertEqual(writes.first?.0, 0)
    XCTAssertEqual(writes.first?.2, 0x0000_0002_0000_0001)
    XCTAssertEqual(writes.last?.0, 8)
    XCTAssertEqual(writes.last?.1, 8)
    XCTAssertEqual(writes.last?.2, 0x0000_0004_0000_0003)
    // MOVD m32, xmm: one 4-byte write of the low dword.
    writes = []
    MemoryAccessEmulator.executeVector(
      VectorMove(file: .xmm, register: 1, size: 4, isStore: true), image: image,
      read: { _, _ in 0 }, write: { writes.append(($0, $1, $2)) })
    XCTAssertEqual(writes.count, 1)
    XCTAssertEqual(writes.first?.1, 4)
    XCTAssertEqual(writes.first?.2, 1)
  }

  func testLoadsZeroTheRestOfTheRegister() {
    let image = image()
    defer { image.deallocate() }
    for offset in stride(from: 160 + 32, to: 160 + 48, by: 8) {
      image.storeBytes(of: UInt64.max, toByteOffset: offset, as: UInt64.self)
    }
    // MOVSS xmm2, m32: the dword, then zeros.
    MemoryAccessEmulator.executeVector(
      VectorMove(file: .xmm, register: 2, size: 4, isStore: false), image: image,
      read: { offset, size in
        XCTAssertEqual(offset, 0)
        XCTAssertEqual(size, 4)
        return 0xFFFF_FFFF_1234_5678  // bytes beyond the operand are dropped
      }, write: { _, _, _ in XCTFail("a load writes nothing") })
    XCTAssertEqual(image.load(fromByteOffset: 160 + 32, as: UInt64.self), 0x1234_5678)
    XCTAssertEqual(image.load(fromByteOffset: 160 + 40, as: UInt64.self), 0)
    // MOVDQU xmm2, m128: both halves, by offset.
    MemoryAccessEmulator.executeVector(
      VectorMove(file: .xmm, register: 2, size: 16, isStore: false), image: image,
      read: { offset, _ in offset == 0 ? 0x5555 : 0xAAAA }, write: { _, _, _ in })
    XCTAssertEqual(image.load(fromByteOffset: 160 + 32, as: UInt64.self), 0x5555)
    XCTAssertEqual(image.load(fromByteOffset: 160 + 40, as: UInt64.self), 0xAAAA)
  }

  /// An MMX move makes the x87 stack all-valid with TOP = 0; a load sets bits 79:64.
  func testMMXMovesSetTheX87StateAsMMXInstructionsDo() {
    let image = image()
    defer { image.deallocate() }
    image.storeBytes(of: UInt16(0x3800 | 0x1), toByteOffset: 2, as: UInt16.self)  // TOP 7, IE
    MemoryAccessEmulator.executeVector(
      VectorMove(file: .mmx, register: 1, size: 8, isStore: false), image: image,
      read: { _, _ in 0x8070_6050_4030_2010 }, write: { _, _, _ in })
    XCTAssertEqual(image.load(fromByteOffset: 48, as: UInt64.self), 0x8070_6050_4030_2010)
    XCTAssertEqual(image.load(fromByteOffset: 56, as: UInt16.self), 0xFFFF)
    XCTAssertEqual(image.load(fromByteOffset: 2, as: UInt16.self), 0x1, "TOP 0, IE kept")
    XCTAssertEqual(image.load(fromByteOffset: 4, as: UInt8.self), 0xFF)
    // MOVD mm0, m32 zero-extends.
    image.storeBytes(of: UInt64.max, toByteOffset: 32, as: UInt64.self)
    MemoryAccessEmulator.executeVector(
      VectorMove(file: .mmx, register: 0, size: 4, isStore: false), image: image,
      read: { _, _ in 0x1_2345_6789 }, write: { _, _, _ in })
    XCTAssertEqual(image.load(fromByteOffset: 32, as: UInt64.self), 0x2345_6789)
  }
}
