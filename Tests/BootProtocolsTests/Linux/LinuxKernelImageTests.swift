import XCTest

@testable import BootProtocols

/// Parsing and validation of the real-mode kernel header (boot.rst, "The Real-Mode Kernel
/// Header"), over synthetic bzImages.
final class LinuxKernelImageTests: XCTestCase {
  func testParsesDebianLikeImage() throws {
    let image = try BzImageFixture().parse()

    XCTAssertEqual(image.protocolVersion, 0x020F)
    XCTAssertEqual(image.setupSectors, 4)
    XCTAssertEqual(image.kernelPayload, 0xA00..<0x1A00)
    XCTAssertEqual(image.setupHeaderBytes, 0x1F1..<0x26C)
    XCTAssertEqual(image.setupHeader.count, 0x26C - 0x1F1)
    XCTAssertEqual(image.setupHeader[0x202 - 0x1F1], UInt8(ascii: "H"))
    XCTAssertEqual(image.loadFlags, 0x01)
    XCTAssertEqual(image.extendedLoadFlags, 0x7F)
    XCTAssertTrue(image.canBeLoadedAbove4G)
    XCTAssertTrue(image.isRelocatable)
    XCTAssertEqual(image.kernelAlignment, 0x20_0000)
    XCTAssertEqual(image.minimumAlignmentShift, 21)
    XCTAssertEqual(image.preferredAddress, 0x100_0000)
    XCTAssertEqual(image.initSize, 0x200_0000)
    XCTAssertEqual(image.commandLineSizeLimit, 2047)
    XCTAssertEqual(image.initrdAddressMax, 0x7FFF_FFFF)
    XCTAssertEqual(image.payloadOffset, 0x100)
    XCTAssertEqual(image.payloadLength, 0x800)
    XCTAssertEqual(image.handoverOffset, 0x190)
    XCTAssertEqual(LinuxKernelImage.entry64Offset, 0x200)
  }

  func testZeroSetupSectorsMeansFour() throws {
    var fixture = BzImageFixture()
    fixture.setupSectors = 0
    let image = try fixture.parse()
    XCTAssertEqual(image.setupSectors, 4)
    XCTAssertEqual(image.kernelPayload.lowerBound, 5 * 512)
  }

  func testMoreSetupSectorsMoveTheKernel() throws {
    var fixture = BzImageFixture()
    fixture.setupSectors = 30
    let image = try fixture.parse()
    XCTAssertEqual(image.kernelPayload, 31 * 512..<31 * 512 + 0x1000)
  }

  func testNonRelocatableKernelIgnoresAlignment() throws {
    var fixture = BzImageFixture()
    fixture.relocatable = 0
    fixture.kernelAlignment = 0
    XCTAssertFalse(try fixture.parse().isRelocatable)
  }

  func testRejections() {
    func expect(
      _ error: LinuxImageError, line: UInt = #line, _ change: (inout BzImageFixture) -> Void
    ) {
      var fixture = BzImageFixture()
      change(&fixture)
      XCTAssertThrowsError(try fixture.parse(), line: line) { thrown in
        XCTAssertEqual(thrown as? LinuxImageError, error, line: line)
      }
    }
    expect(.tooSmall) { $0.truncatedLength = 0x267 }
    expect(.missingBootFlag) { $0.bootFlag = 0x55AA }
    expect(.missingHeaderMagic) { $0.magic = Array("HdrT".utf8) }
    expect(.protocolTooOld(version: 0x020B)) { $0.version = 0x020B }
    expect(.headerSizeInvalid) { $0.jump = [0xE9, 0x6A] }
    expect(.headerSizeInvalid) { $0.jump = [0xEB, 0x65] }  // ends at 0x267, before handover_offset
    expect(.headerSizeInvalid) { $0.jump = [0xEB, 0x8F] }  // ends at 0x291, into edd_mbr_sig_buffer
    expect(.setupOutsideImage) { $0.truncatedLength = 0x9FF }
    expect(.kernelEmpty) { $0.kernelSize = 0 }
    expect(.notLoadedHigh) { $0.loadFlags = 0x80 }
    expect(.not64BitCapable) { $0.extendedLoadFlags = 0x7E }
    expect(.invalidKernelAlignment) { $0.kernelAlignment = 0x30_0000 }
    expect(.invalidKernelAlignment) { $0.kernelAlignment = 0x800 }
    expect(.initSizeTooSmall) { $0.initSize = 0xFFF }
    expect(.payloadOutsideKernel) { $0.payloadOffset = 0x900 }
  }

  func testHeaderEndingAtTheZeroPageLimitIsAccepted() throws {
    var fixture = BzImageFixture()
    fixture.jump = [0xEB, 0x8E]  // ends at 0x290
    XCTAssertEqual(try fixture.parse().setupHeaderBytes, 0x1F1..<0x290)
  }

  func testErrorMessagesAreDistinct() {
    let errors: [LinuxImageError] = [
      .tooSmall, .missingBootFlag, .missingHeaderMagic, .protocolTooOld(version: 0x200),
      .headerSizeInvalid, .setupOutsideImage, .kernelEmpty, .notLoadedHigh, .not64BitCapable,
      .invalidKernelAlignment, .initSizeTooSmall, .payloadOutsideKernel,
    ]
    let messages = Set(errors.map { $0.message.description })
    XCTAssertEqual(messages.count, errors.count)
  }
}
