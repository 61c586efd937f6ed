import HypervisorCore
import XCTest

/// The trace file format (docs/exit-trace.md): what is written reads back equal, and a
/// damaged file is refused with the reason, never half read.
final class ExitTraceFileTests: XCTestCase {
  static func sampleFile() -> ExitTraceFile {
    var profile = VMProfile(name: Array("sample".utf8))
    profile.memorySize = 16 << 20
    var header = ExitTraceHeader(
      backend: .amdV, msrVendor: .amd,
      controlRegisterRules: ControlRegisterRules(allowedCR4: 0x6F0, allowedEFER: 0xD01),
      profile: profile)
    header.hasInterruptSources = true
    var before = GuestRegisters()
    before.rax = 1
    before.rip = 0x1000
    var after = before
    after.rax = 0x00A2_0F12
    after.rbx = 0x0800
    after.rip = 0x1002
    let records = [
      ExitTraceRecord(
        vcpu: 0, exit: VMExit(reason: .cpuid), before: before, after: after,
        guestCalls: [
          .instructionFetchKey(rip: 0x1000, key: TraceFetchKey(linear: 0x1000, addressSpace: ~0)),
          .hostCPUID(leaf: 1, subleaf: 0, result: CPUIDLeaf(eax: 0x00A2_0F12, ebx: 0x0800)),
          .mode(GuestMode(width: .long64, cr0: 0x8000_0011, cr3: 0x7_0000, efer: 0xD00)),
        ],
        memory: [TraceMemoryChunk(guestPhysical: 0x1000, bytes: [0x0F, 0xA2, 0xF4])]),
      ExitTraceRecord(
        vcpu: 0,
        exit: VMExit(
          reason: .portIO(PortAccess(port: 0x3F8, size: 1, direction: .write)),
          instructionLength: 1),
        before: after, after: after, outcome: .stop(.guestRequested(code: 3))),
      ExitTraceRecord(
        vcpu: 0,
        exit: VMExit(
          reason: .nestedPageFault(
            NestedPageFault(guestPhysical: 0xFEE0_00B0, guestLinear: 0xFEE0_00B0, access: .write)),
          interruptedEventVector: 14),
        before: after, after: after,
        outcome: .stop(
          .unmappedAccess(guestPhysical: 0xFEE0_00B0, access: .write, beyondMemory: true)),
        pendingEvent: .exception(vector: 13, errorCode: 0)),
    ]
    return ExitTraceFile(header: header, records: records)
  }

  func testAFileReadsBackEqual() throws {
    let file = Self.sampleFile()
    let decoded = try ExitTraceFile.decode(file.encoded()).get()
    XCTAssertEqual(decoded, file)
  }

  func testAFlippedBitIsAChecksumMismatch() {
    var bytes = Self.sampleFile().encoded()
    bytes[bytes.count / 2] ^= 0x10
    guard case .failure(.checksumMismatch) = ExitTraceFile.decode(bytes) else {
      return XCTFail("a damaged payload was accepted")
    }
  }

  func testATruncatedFileIsALengthMismatch() {
    let bytes = Self.sampleFile().encoded()
    XCTAssertEqual(
      ExitTraceFile.decode(Array(bytes.dropLast(7))),
      .failure(.lengthMismatch(declared: bytes.count - 14, actual: bytes.count - 14 - 7)))
    XCTAssertEqual(ExitTraceFile.decode(Array(bytes.prefix(9))), .failure(.truncated(size: 9)))
  }

  func testAnotherFileOrVersionIsRefused() {
    var bytes = Self.sampleFile().encoded()
    bytes[0] = UInt8(ascii: "X")
    XCTAssertEqual(ExitTraceFile.decode(bytes), .failure(.badMagic))
    bytes = Self.sampleFile().encoded()
    bytes[4] = 9
    XCTAssertEqual(ExitTraceFile.decode(bytes), .failure(.unsupportedVersion(9)))
  }

  /// A record damaged before the checksum was computed (a writer's bug) is named by index.
  func testAnUnknownTagInsideARecordNamesTheRecord() {
    let file = Self.sampleFile()
    var records: [UInt8] = []
    var chain = RegisterChain()
    for record in file.records {
      ExitTraceFile.appendRecord(record, previous: chain.previous(record.vcpu), to: &records)
      chain.update(record.vcpu, record.after)
    }
    // The first record's exit: u16 vCPU, two optional bytes (2 each), then the reason tag,
    // after the record's u32 length.
    records[4 + 2 + 4] = 0xEE
    let bytes = ExitTraceFile.assemble(
      header: file.header, recordCount: file.records.count, encodedRecords: records)
    guard case .failure(.malformedRecord(index: 0, .invalidValue)) = ExitTraceFile.decode(bytes)
    else { return XCTFail("an unknown exit tag was accepted: \(ExitTraceFile.decode(bytes))") }
  }

  func testCRC32IsZlibs() {
    // zlib.crc32(b"123456789") == 0xCBF43926, the CRC-32 check value.
    XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
  }
}
