import Foundation
import XCTest

@testable import PeregrineProfiles

/// Parses `text` as a profile held in memory, paths unchecked unless `files` is given.
func parseProfile(_ text: String, files: ProfileFiles? = nil) -> Result<
  ProfileDocument, ProfileErrors
> {
  ProfileLoader(checksFiles: false).parse(Data(text.utf8), file: "test.xml", files: files)
}

func machine(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> MachineProfile?
{
  switch parseProfile(text) {
  case .success(.machine(let profile)): return profile
  case .success(.cluster): XCTFail("parsed as a cluster", file: file, line: line)
  case .failure(let errors): XCTFail("refused: \(errors)", file: file, line: line)
  }
  return nil
}

/// The diagnostics of a profile that must be refused.
func diagnostics(
  _ text: String, files: ProfileFiles? = nil, file: StaticString = #filePath, line: UInt = #line
)
  -> [ProfileDiagnostic]
{
  switch parseProfile(text, files: files) {
  case .success: XCTFail("accepted", file: file, line: line)
  case .failure(let errors): return errors.diagnostics
  }
  return []
}

/// Asserts exactly one diagnostic, of `kind` at `atLine` (and `column` when given), whose
/// message contains `containing`.
func assertRefused(
  _ text: String, _ kind: ProfileDiagnostic.Kind, atLine expectedLine: Int, column: Int? = nil,
  containing: String, file: StaticString = #filePath, line: UInt = #line
) {
  let found = diagnostics(text, file: file, line: line)
  XCTAssertEqual(found.count, 1, "diagnostics: \(found)", file: file, line: line)
  guard let first = found.first else { return }
  XCTAssertEqual(first.kind, kind, "\(first)", file: file, line: line)
  XCTAssertEqual(first.line, expectedLine, "\(first)", file: file, line: line)
  if let column { XCTAssertEqual(first.column, column, "\(first)", file: file, line: line) }
  XCTAssertTrue(
    first.message.contains(containing), "'\(first.message)' lacks '\(containing)'", file: file,
    line: line)
  XCTAssertEqual(first.file, "test.xml", file: file, line: line)
}

/// A valid Linux profile with `extra` lines added inside <profile> (from line 7 on).
func linuxProfile(_ extra: String = "") -> String {
  """
  <?xml version="1.0"?>
  <profile>
    <name>linux</name>
    <type>peregrine</type>
    <memory unit="MiB">256</memory>
    <kernel>vmlinuz</kernel>
  \(extra)
  </profile>
  """
}
