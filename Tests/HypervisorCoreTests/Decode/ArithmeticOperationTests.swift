import HypervisorCore
import XCTest

/// Flag results checked against the SDM's definitions on values whose answers are known
/// (the cases a processor gives for these operands).
final class ArithmeticOperationTests: XCTestCase {
  private let cf: UInt64 = 1, pf: UInt64 = 4, af: UInt64 = 0x10, zf: UInt64 = 0x40
  private let sf: UInt64 = 0x80, of: UInt64 = 0x800
  private let reserved: UInt64 = 0x2  // bit 1, always 1: kept

  private func run(
    _ op: ArithmeticOperation, _ a: UInt64, _ b: UInt64, _ size: UInt8,
    carry: Bool = false
  ) -> (UInt64, UInt64) {
    let result = op.apply(destination: a, source: b, size: size, flags: reserved | (carry ? 1 : 0))
    return (result.result, result.flags & ~reserved)
  }

  func testAddCarriesOverflowsAndAdjusts() {
    XCTAssertTrue(run(.add, 0xFF, 0x01, 1) == (0x00, cf | pf | af | zf))
    XCTAssertTrue(run(.add, 0x7F, 0x01, 1) == (0x80, af | sf | of))
    XCTAssertTrue(run(.add, 0x7FFF_FFFF, 1, 4) == (0x8000_0000, pf | af | sf | of))
    XCTAssertTrue(run(.add, ~0, 1, 8) == (0, cf | pf | af | zf))
    XCTAssertTrue(run(.adc, 0xFF, 0x00, 1, carry: true) == (0x00, cf | pf | af | zf))
    XCTAssertTrue(run(.adc, 0xFFFF, 0xFFFF, 2, carry: true) == (0xFFFF, cf | pf | af | sf))
  }

  func testSubtractBorrowsAndCompareKeepsTheOperand() {
    XCTAssertTrue(run(.sub, 0x00, 0x01, 1) == (0xFF, cf | pf | af | sf))
    XCTAssertTrue(run(.sub, 0x80, 0x01, 1) == (0x7F, af | of))
    XCTAssertTrue(run(.cmp, 5, 5, 4) == (0, pf | zf))
    XCTAssertFalse(ArithmeticOperation.cmp.writesResult)
    XCTAssertTrue(run(.sbb, 0x10, 0x0F, 1, carry: true) == (0x00, pf | af | zf))
    XCTAssertTrue(run(.sbb, 0, 0, 8, carry: true) == (~0, cf | pf | af | sf))
  }

  func testLogicalOperationsClearCarryAndOverflow() {
    XCTAssertTrue(run(.or, 0x8000_0000, 0x1, 4) == (0x8000_0001, sf))
    XCTAssertTrue(run(.and, 0xF0, 0x0F, 1) == (0, pf | zf))
    XCTAssertTrue(run(.xor, 0x1234, 0x1234, 2) == (0, pf | zf))
    XCTAssertTrue(run(.test, 0x81, 0x80, 1) == (0x80, sf))
    XCTAssertFalse(ArithmeticOperation.test.writesResult)
    let kept = ArithmeticOperation.or.apply(
      destination: 1, source: 0, size: 1, flags: 0x2 | cf | of | 0x200)
    XCTAssertEqual(kept.flags, 0x202, "CF/OF cleared, IF and bit 1 kept")
  }

  func testOperandsAreCutToTheSize() {
    XCTAssertTrue(run(.add, 0x1_00FF, 0x1, 1) == (0x00, cf | pf | af | zf))
    XCTAssertTrue(run(.or, 0xFFFF_0000, 0xFFFF_0000_0000, 2) == (0, pf | zf))
  }
}
