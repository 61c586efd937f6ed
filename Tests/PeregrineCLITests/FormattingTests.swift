import XCTest

@testable import PeregrineCommands

final class FormattingTests: XCTestCase {
  func testBytesAndSeconds() {
    XCTAssertEqual(Formatting.bytes(512), "512 B")
    XCTAssertEqual(Formatting.bytes(1536), "1.5 KiB")
    XCTAssertEqual(Formatting.bytes(256 << 20), "256 MiB")
    XCTAssertEqual(Formatting.bytes(3 << 30), "3 GiB")
    XCTAssertEqual(Formatting.seconds(0.25), "0.25 s")
    XCTAssertEqual(Formatting.seconds(75), "1m15s")
    XCTAssertEqual(Formatting.seconds(90061), "1d1h1m")
  }

  func testProgressBar() {
    let bar = ProgressBar(width: 10)
    XCTAssertEqual(
      bar.render(
        TransferProgress(file: "vmlinuz", sentBytes: 5 << 20, totalBytes: 10 << 20),
        elapsedSeconds: 2),
      "vmlinuz  [=====>    ]   50%  5 MiB/10 MiB  2.5 MiB/s")
    XCTAssertEqual(
      bar.render(TransferProgress(file: "x", sentBytes: 10, totalBytes: 10), elapsedSeconds: 0),
      "x  [==========]  100%  10 B/10 B  0 B/s")
    XCTAssertEqual(
      bar.render(TransferProgress(file: "x", sentBytes: 0, totalBytes: 0), elapsedSeconds: 1)
        .contains("100%"), true)
  }

  func testClusterKeyHex() throws {
    let key = ClusterKey.generate()
    XCTAssertEqual(key.hex.count, 64)
    XCTAssertEqual(ClusterKey(hex: key.hex + "\n"), key)
    XCTAssertNil(ClusterKey(hex: String(repeating: "g", count: 64)))
    XCTAssertNil(ClusterKey(hex: "00"))
    XCTAssertNotEqual(ClusterKey.generate(), key)
  }

  func testNodeBootForms() {
    let arguments = NodeBoot.qemuArguments(
      iso: "/s/n/boot.iso", log: "/s/n/serial.log", hostPort: 47100, nodeIndex: 3, memory: "1024M",
      cpus: 2)
    XCTAssertTrue(
      arguments.contains("virtio-net-pci,netdev=mgmt,disable-legacy=on,mac=52:54:00:50:00:03"))
    XCTAssertTrue(arguments.contains("file:/s/n/serial.log"))
    XCTAssertEqual(NodeBoot.mac(forNode: 258), "52:54:00:50:01:02")
    // The ISO is a CD on an AHCI controller of its own, the only boot device.
    XCTAssertTrue(
      arguments.contains("file=/s/n/boot.iso,media=cdrom,if=none,id=boot-cd,readonly=on"))
    XCTAssertTrue(arguments.contains("ide-cd,drive=boot-cd,bus=boot-ahci.0,bootindex=0"))
    XCTAssertFalse(arguments.contains("-cdrom"))
    // A comma in the path is doubled, or QEMU would take what follows it as an option.
    XCTAssertEqual(
      NodeBoot.bootCDArguments(iso: "/home/a,media=disk/boot.iso")[1],
      "file=/home/a,,media=disk/boot.iso,media=cdrom,if=none,id=boot-cd,readonly=on")
    let key = ClusterKey(bytes: [0x12, 0x34] + Array(repeating: 0, count: 30))!
    let withData = NodeBoot.qemuArguments(
      iso: "/s/n/boot.iso", log: "/s/n/serial.log", attachment: .user(hostPort: 47100),
      nodeIndex: 3, memory: "1024M", cpus: 2, dataPort: NodeBoot.dataPort(for: key))
    XCTAssertEqual(NodeBoot.dataPort(for: key), 48_000 + 0x1234 % 2000)
    XCTAssertTrue(withData.contains("socket,id=data,mcast=230.0.0.1:48660,localaddr=127.0.0.1"))
    XCTAssertTrue(
      withData.contains(
        "virtio-net-pci,netdev=data,disable-legacy=on,addr=0x10,mac=52:54:00:51:00:03"))
    XCTAssertFalse(arguments.contains("-netdev") && arguments.contains { $0.hasPrefix("socket") })
    XCTAssertEqual(NodeManager.mebibytes("1G"), 1024)
    XCTAssertEqual(NodeManager.mebibytes("512m"), 512)
    XCTAssertNil(NodeManager.mebibytes("32M"))
  }
}
