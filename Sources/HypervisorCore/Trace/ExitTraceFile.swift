/// A whole trace as a file (docs/exit-trace.md):
///
///     "PGXT"  u16 version  u32 payload length  u32 CRC-32 of the payload  payload
///     payload: header, u32 record count, then each record as u32 length + record bytes
///
/// Little-endian throughout. The checksum and every length are checked before a record is
/// decoded: a corrupt or truncated file is an error that says where, never a partial replay.
public struct ExitTraceFile: Equatable {
  public static let magic: [UInt8] = Array("PGXT".utf8)
  public static let version: UInt16 = 2
  /// Magic, version, length, checksum.
  public static let prefixSize = 14
  /// The most records one file may declare (a bound for the decoder, not for recording).
  public static let maximumRecords = 1 << 20

  public var header: ExitTraceHeader
  public var records: [ExitTraceRecord]

  public init(header: ExitTraceHeader, records: [ExitTraceRecord] = []) {
    self.header = header
    self.records = records
  }

  /// The file's bytes, from a header and already encoded records (the kernel keeps them
  /// encoded as it records).
  public static func assemble(header: ExitTraceHeader, recordCount: Int, encodedRecords: [UInt8])
    -> [UInt8]
  {
    var payload = StateWriter()
    header.encode(into: &payload)
    payload.u32(UInt32(truncatingIfNeeded: recordCount))
    payload.raw(encodedRecords)
    var file = StateWriter()
    file.raw(magic)
    file.u16(version)
    file.u32(UInt32(truncatingIfNeeded: payload.bytes.count))
    file.u32(CRC32.checksum(payload.bytes))
    file.raw(payload.bytes)
    return file.bytes
  }

  /// One record as it sits in a file: its length, then its bytes. `previous`: the registers
  /// after the same vCPU's previous record in the file (GuestRegisters() for its first).
  public static func appendRecord(
    _ record: ExitTraceRecord, previous: GuestRegisters, to bytes: inout [UInt8]
  ) {
    var writer = StateWriter()
    record.encode(into: &writer, previous: previous)
    var length = StateWriter()
    length.u32(UInt32(truncatingIfNeeded: writer.bytes.count))
    bytes.append(contentsOf: length.bytes)
    bytes.append(contentsOf: writer.bytes)
  }

  public func encoded() -> [UInt8] {
    var records: [UInt8] = []
    var chain = RegisterChain()
    for record in self.records {
      Self.appendRecord(record, previous: chain.previous(record.vcpu), to: &records)
      chain.update(record.vcpu, record.after)
    }
    return Self.assemble(header: header, recordCount: self.records.count, encodedRecords: records)
  }

  public static func decode(_ bytes: [UInt8]) -> Result<ExitTraceFile, ExitTraceError> {
    guard bytes.count >= prefixSize else { return .failure(.truncated(size: bytes.count)) }
    guard Array(bytes[0..<4]) == magic else { return .failure(.badMagic) }
    var prefix = StateReader(bytes, from: 4)
    do throws(StateDecodingError) {
      let version = try prefix.u16()
      guard version == Self.version else { return .failure(.unsupportedVersion(version)) }
      let length = Int(try prefix.u32())
      let checksum = try prefix.u32()
      guard bytes.count - prefixSize == length else {
        return .failure(.lengthMismatch(declared: length, actual: bytes.count - prefixSize))
      }
      let actual = CRC32.checksum(bytes, from: prefixSize)
      guard actual == checksum else {
        return .failure(.checksumMismatch(expected: checksum, actual: actual))
      }
      var reader = StateReader(bytes, from: prefixSize)
      let header = try ExitTraceHeader.decode(&reader)
      let count = Int(try reader.u32())
      guard count <= maximumRecords else { return .failure(.tooManyRecords(count)) }
      var records: [ExitTraceRecord] = []
      var chain = RegisterChain()
      for index in 0..<count {
        let recordLength = Int(try reader.u32())
        var record = try reader.payload(count: recordLength)
        do throws(StateDecodingError) {
          let decoded = try ExitTraceRecord.decode(from: &record) { chain.previous($0) }
          chain.update(decoded.vcpu, decoded.after)
          records.append(decoded)
          guard record.remaining == 0 else {
            return .failure(.malformedRecord(index: index, .trailingBytes(at: record.position)))
          }
        } catch {
          return .failure(.malformedRecord(index: index, error))
        }
      }
      guard reader.remaining == 0 else {
        return .failure(.malformed(.trailingBytes(at: reader.position)))
      }
      return .success(ExitTraceFile(header: header, records: records))
    } catch {
      return .failure(.malformed(error))
    }
  }
}

/// The registers after each vCPU's last record: what its next record's registers before
/// are written against.
public struct RegisterChain {
  private var last: [GuestRegisters] = []

  public init() {}

  public func previous(_ vcpu: UInt16) -> GuestRegisters {
    Int(vcpu) < last.count ? last[Int(vcpu)] : GuestRegisters()
  }

  public mutating func update(_ vcpu: UInt16, _ registers: GuestRegisters) {
    while last.count <= Int(vcpu) { last.append(GuestRegisters()) }
    last[Int(vcpu)] = registers
  }
}

/// Why bytes are not a trace this code can replay.
public enum ExitTraceError: Error, Equatable {
  /// Shorter than the 14-byte prefix.
  case truncated(size: Int)
  /// Not "PGXT".
  case badMagic
  case unsupportedVersion(UInt16)
  /// The prefix's payload length and the bytes after it differ (a cut-off file).
  case lengthMismatch(declared: Int, actual: Int)
  case checksumMismatch(expected: UInt32, actual: UInt32)
  case tooManyRecords(Int)
  /// The header or the record table is damaged.
  case malformed(StateDecodingError)
  /// Record `index` (from 0) is damaged.
  case malformedRecord(index: Int, StateDecodingError)
}
