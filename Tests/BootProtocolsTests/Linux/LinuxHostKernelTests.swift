import XCTest

@testable import BootProtocols

/// Parses real distribution kernels: those in /boot and, when set, the file named by the
/// PEREGRINE_BZIMAGE environment variable. Skipped when there are none; fetches nothing.
final class LinuxHostKernelTests: XCTestCase {
  func testParsesInstalledKernels() throws {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/boot")) ?? []
    var paths = names.filter { $0.hasPrefix("vmlinuz-") }.sorted().map { "/boot/" + $0 }
    if let extra = ProcessInfo.processInfo.environment["PEREGRINE_BZIMAGE"] { paths.append(extra) }
    let readable = paths.compactMap { FileManager.default.contents(atPath: $0) }
    guard !readable.isEmpty else {
      throw XCTSkip("no readable /boot/vmlinuz-* or PEREGRINE_BZIMAGE on this machine")
    }

    for bytes in readable {
      let image = try Array(bytes).withUnsafeBytes { try LinuxKernelImage(parsing: $0) }
      XCTAssertGreaterThanOrEqual(image.protocolVersion, 0x020C)
      XCTAssertTrue(image.isRelocatable)
      XCTAssertTrue(image.canBeLoadedAbove4G)
      XCTAssertEqual(image.setupHeaderBytes.lowerBound, 0x1F1)
      XCTAssertGreaterThanOrEqual(UInt64(image.initSize), UInt64(image.kernelPayload.count))
      XCTAssertEqual(image.kernelPayload.upperBound, bytes.count)

      let layout = try LinuxGuestLayout(
        ramSize: 512 << 20, image: image, initrdSize: 32 << 20,
        commandLine: Array("console=ttyS0".utf8))
      XCTAssertEqual(layout.kernelLoadAddress, image.preferredAddress)
      XCTAssertFalse(layout.initrd!.overlaps(layout.kernelRegion))
      let page = try LinuxBootParameters.build(
        image: image, layout: layout, acpiRSDPAddress: 0xE0000, devices: [])
      XCTAssertEqual(Array(page[0x202..<0x206]), Array("HdrS".utf8))
    }
  }
}
