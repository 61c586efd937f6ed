import HypervisorCore
import XCTest

/// `disk=NAME`: the image behind the VM's virtio-blk disk (docs/guest-io.md).
final class VMProfileDiskTests: XCTestCase {
  private func parse(_ line: String) -> Result<VMProfile, VMProfileError> {
    VMProfile.parse(Array(line.utf8))
  }

  func testNoDiskUnlessAsked() throws {
    XCTAssertEqual(try parse("vm name=a kind=linux").get().diskImage, [])
    XCTAssertEqual(
      try parse("vm name=a kind=linux disk=root.ext4 -- console=ttyS0").get().diskImage,
      Array("root.ext4".utf8))
    // The guest's command line may name a disk too: it is the guest's, not the profile's.
    let profile = try parse("vm name=a kind=linux -- disk=other").get()
    XCTAssertEqual(profile.diskImage, [])
    XCTAssertEqual(profile.guestCommandLine, Array("disk=other".utf8))
    XCTAssertEqual(
      try parse("vm name=a disk=\(String(repeating: "d", count: 31))").get().diskImage.count, 31)
  }

  func testBadNamesAndRepeatsAreRefused() {
    let refused = VMProfileError.invalidValue(Array("disk".utf8))
    XCTAssertEqual(parse("vm name=a disk=\(String(repeating: "d", count: 32))"), .failure(refused))
    XCTAssertEqual(parse("vm name=a disk=a/b"), .failure(refused))
    XCTAssertEqual(parse("vm name=a disk=x,y"), .failure(refused))
    XCTAssertEqual(parse("vm name=a disk="), .failure(.missingValue(Array("disk".utf8))))
    XCTAssertEqual(
      parse("vm name=a disk=x disk=y"), .failure(.repeatedKey(Array("disk".utf8))))
  }
}
