import XCTest

@testable import PeregrineCommands

/// The checkpoint file (docs/checkpoint.md): what is written reads back the same, and a
/// file cut short anywhere or with any bit flipped is refused with the reason.
final class CheckpointFileTests: XCTestCase {
  private func sample(disk: Bool = true) -> CheckpointFile {
    var memory = [UInt8](repeating: 0, count: 64 << 10)
    memory[5] = 1
    for index in 3000..<5000 { memory[index] = UInt8(truncatingIfNeeded: index) }
    memory[(64 << 10) - 1] = 0xFF
    var diskImage = [UInt8](repeating: 0, count: 16 << 10)
    diskImage[4096] = 0xEE
    return CheckpointFile(
      metadata: CheckpointFile.Metadata(
        machine: "counter", node: "node0", backend: "svm", vendor: "AMD",
        createdAt: 1_800_000_000.5, memoryBytes: UInt64(memory.count), vcpus: 1,
        diskBytes: disk ? UInt64(diskImage.count) : 0, peregrineVersion: "0.1.0"),
      profile: Array("<profile name=\"counter\"/>".utf8),
      savedState: Array(repeating: 0x42, count: 300),
      memory: SparseImage(image: memory), disk: disk ? SparseImage(image: diskImage) : nil)
  }

  func testAFileReadsBackAsWritten() throws {
    for disk in [true, false] {
      let file = sample(disk: disk)
      let bytes = file.encoded()
      XCTAssertEqual(Array(bytes[0..<8]), Array("PGCKPT\r\n".utf8))
      let decoded = try CheckpointFile.decode(bytes)
      XCTAssertEqual(decoded, file)
      XCTAssertEqual(decoded.encoded(), bytes)
    }
  }

  func testSparseImagesKeepOnlyDataAndRebuildEveryByte() {
    let file = sample()
    // Chunks 0 (byte 5), 2..4 (3000..<5000, merged into one run), 63 (the last byte).
    XCTAssertEqual(file.memory.runs.map(\.offset), [0, 2048, 63 * 1024])
    XCTAssertEqual(file.memory.dataBytes, 1024 + 3 * 1024 + 1024)
    let image = file.memory.image()
    XCTAssertEqual(image.count, 64 << 10)
    XCTAssertEqual(image[5], 1)
    XCTAssertEqual(image[4999], UInt8(truncatingIfNeeded: 4999))
    XCTAssertEqual(image[5000], 0)
    XCTAssertEqual(SparseImage(image: image), file.memory)
    // memoryWrite chunks: 1024-byte pieces holding data, at multiples of 1024.
    let chunks = file.memory.chunks(of: 1024)
    XCTAssertEqual(chunks.map(\.offset), [0, 2048, 3072, 4096, 63 * 1024])
    XCTAssertTrue(chunks.allSatisfy { $0.bytes.count == 1024 })
  }

  /// 64 MiB of touching 1 KiB chunks, as a checkpoint of a busy VM reads them, and one
  /// chunk after a gap: two runs, every byte in place. Built by copying the run at every
  /// chunk (the old merge), this took minutes in a debug build; in place, well under a second.
  func testManyTouchingChunksMergeInLinearTime() {
    let count = 65_536
    var chunks = (0..<count).map { index in
      (
        offset: UInt64(index) * 1024,
        bytes: [UInt8](repeating: UInt8(index & 0x7f | 1), count: 1024)
      )
    }
    chunks.append((offset: UInt64(count + 1) * 1024, bytes: [7]))
    let started = Date()
    let image = SparseImage(size: UInt64(count + 2) * 1024, chunks: chunks)
    XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    XCTAssertEqual(image.runs.map(\.offset), [0, UInt64(count + 1) * 1024])
    let first = image.runs.first?.bytes ?? []
    XCTAssertEqual(first.count, count * 1024)
    XCTAssertTrue(first.count == count * 1024 && first[5 * 1024 + 3] == 5)
    XCTAssertTrue(first.count == count * 1024 && first[count * 1024 - 1] == 0x7f)
    XCTAssertTrue(image.runs.last?.bytes == [7])
    XCTAssertEqual(image.dataBytes, UInt64(count * 1024 + 1))
  }

  func testEveryTruncationIsRefused() {
    let bytes = sample().encoded()
    for length in 0..<bytes.count {
      XCTAssertThrowsError(try CheckpointFile.decode(Array(bytes[0..<length])), "\(length)") {
        error in
        guard let error = error as? CheckpointError else { return XCTFail("\(error)") }
        if length < CheckpointFile.headerSize {
          XCTAssertEqual(
            error,
            length < 8
              ? .truncated("the file has \(length) bytes, shorter than the 32-byte header")
              : .truncated("the file has \(length) bytes, shorter than the 32-byte header"))
        } else {
          XCTAssertEqual(
            error, .truncated("the file has \(length) bytes, its header says \(bytes.count)"))
        }
      }
    }
  }

  func testEveryBitFlipIsRefusedAndNamesWhatIsWrong() {
    let file = sample()
    let bytes = file.encoded()
    let sections = 5
    let tableEnd = CheckpointFile.headerSize + sections * CheckpointFile.tableEntrySize
    var seen = Set<String>()
    // Every byte, one bit each (the bit varies with the position), all 8 in the header.
    for index in 0..<bytes.count {
      let bits = index < CheckpointFile.headerSize ? Array(0..<8) : [index % 8]
      for bit in bits {
        var damaged = bytes
        damaged[index] ^= UInt8(1 << bit)
        do {
          _ = try CheckpointFile.decode(damaged)
          XCTFail("byte \(index) bit \(bit): accepted")
        } catch {
          seen.insert("\(error)".components(separatedBy: ":").first!)
          if index >= tableEnd && index < bytes.count - CheckpointFile.trailerSize {
            // Inside a section: that section's SHA-256 names it.
            guard case .sectionDigest = error else {
              return XCTFail("byte \(index): \(error)")
            }
          } else if index >= bytes.count - CheckpointFile.trailerSize {
            XCTAssertEqual(error, .fileDigest, "byte \(index)")
          } else if index < 8 {
            XCTAssertEqual(error, .notACheckpoint)
          } else if index == 8 || index == 9 {
            guard case .unsupportedVersion = error else { return XCTFail("\(error)") }
          }
        }
      }
    }
    XCTAssertTrue(seen.count >= 4, "\(seen)")
    // The section a flip lands in is named.
    var damaged = bytes
    damaged[bytes.count - CheckpointFile.trailerSize - 100] ^= 1  // in the disk section
    XCTAssertEqual(
      "\((try? CheckpointFile.decode(damaged)) == nil ? "refused" : "accepted")", "refused")
    do {
      _ = try CheckpointFile.decode(damaged)
    } catch {
      XCTAssertEqual(
        "\(error)", "the checkpoint is corrupt: the disk section does not match its SHA-256")
    }
  }

  func testAnotherFormatVersionIsRefusedAsSuch() {
    var bytes = sample().encoded()
    bytes[8] = 2
    XCTAssertThrowsError(try CheckpointFile.decode(bytes)) { error in
      XCTAssertEqual(
        "\(error)",
        "checkpoint format version 2 is not supported (this peregrine reads version 1)")
    }
  }

  func testMalformedSparseRunsAreRefusedEvenWithGoodDigests() {
    // Rebuilt with valid digests around a bad memory section: a run past the end.
    var file = sample(disk: false)
    file.memory.runs.append(SparseImage.Run(offset: file.memory.size - 2, bytes: [1, 2, 3]))
    XCTAssertThrowsError(try CheckpointFile.decode(file.encoded())) { error in
      XCTAssertTrue("\(error)".contains("memory section's run 3"), "\(error)")
    }
    var overlapping = sample(disk: false)
    overlapping.memory.runs.insert(SparseImage.Run(offset: 0, bytes: [9]), at: 1)
    XCTAssertThrowsError(try CheckpointFile.decode(overlapping.encoded())) { error in
      XCTAssertTrue("\(error)".contains("out of order"), "\(error)")
    }
  }
}
