import Foundation

/// How a node boots and is reached: its kernel command line, its GRUB configuration, and
/// the emulator command that runs it with a forwarded UDP port (docs/cli.md).
public enum NodeBoot {
  /// The node's control service port (UDP) on its management address. One constant for the
  /// node's network stack and the CLI's forwarding.
  public static let controlPort: UInt16 = 7100
  /// QEMU's user-mode network (slirp) is 10.0.2.0/24 with the host side at 10.0.2.2; each
  /// node has its own slirp network, so each is 10.0.2.15 and is told apart by host port.
  public static let address = "10.0.2.15/24"
  public static let gateway = "10.0.2.2"
  /// Host UDP ports tried for forwarding: node N gets the first free one from base + N on.
  public static let firstHostPort: UInt16 = 47100

  /// `loglevel=info cluster_key=<64 hex> ip=10.0.2.15/24 gw=10.0.2.2`, then any extra words
  /// (`node up --kernel-args`, e.g. the tests' `netecho nettest`).
  public static func commandLine(
    key: ClusterKey, address: String = address, gateway: String = gateway, extra: String = ""
  ) -> String {
    "loglevel=info cluster_key=\(key.hex) ip=\(address) gw=\(gateway)"
      + (extra.isEmpty ? "" : " \(extra)")
  }

  /// Why `--kernel-args` cannot go on a node's command line, or nil when it can: it must
  /// stay one grub.cfg line of plain words, and must not set what `node up` sets itself.
  public static func refusalOfExtraWords(_ words: String) -> String? {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=._,:/- ")
    if let bad = words.first(where: { !allowed.contains($0) }) {
      return
        "--kernel-args may hold only letters, digits, spaces and = . _ , : / - (not \(bad.debugDescription))"
    }
    for word in words.split(separator: " ") {
      for owned in ["cluster_key=", "ip=", "gw="] where word.hasPrefix(owned) {
        return "--kernel-args cannot set \(owned) (node up sets it)"
      }
    }
    return nil
  }

  /// The node's grub.cfg: the kernel with `commandLine` and its symbols; no guest modules
  /// (the node starts empty and waits for commands).
  public static func grubConfiguration(commandLine: String, hasSymbols: Bool) -> String {
    var lines = [
      "serial --unit=0 --speed=115200",
      "terminal_input serial",
      "terminal_output serial",
      "set timeout=0",
      "menuentry \"Peregrine node\" {",
      "  multiboot2 /boot/peregrine.elf \(commandLine)",
    ]
    if hasSymbols { lines.append("  module2 /boot/peregrine.sym symbols") }
    lines += ["  boot", "}"]
    return lines.joined(separator: "\n") + "\n"
  }

  /// A locally administered unicast MAC for node `index` (52:54:00 is QEMU's prefix; bit 1
  /// of the first octet set, bit 0 clear: IEEE 802 clause 8.2).
  public static func mac(forNode index: Int) -> String {
    let low = String(format: "%02x:%02x", (index >> 8) & 0xFF, index & 0xFF)
    return "52:54:00:50:\(low)"
  }

  /// QEMU under TCG with an EPYC CPU (AMD-V), the serial console to `log`, and a modern
  /// (virtio 1.x, `disable-legacy=on`) virtio-net NIC on slirp forwarding `hostPort` to the
  /// node's control port.
  public static func qemuArguments(
    iso: String, log: String, hostPort: UInt16, nodeIndex: Int, memory: String, cpus: Int,
    monitor: String? = nil
  ) -> [String] {
    qemuArguments(
      iso: iso, log: log, attachment: .user(hostPort: hostPort), nodeIndex: nodeIndex,
      memory: memory, cpus: cpus, monitor: monitor)
  }

  /// The QEMU monitor's socket in a node's directory (`node inject-mce`), or nil when the
  /// path is too long for a unix socket (sun_path holds 108 bytes with its NUL).
  public static func monitorSocket(nodeDirectory: String) -> String? {
    let path = URL(fileURLWithPath: nodeDirectory).appendingPathComponent("monitor.sock").path
    return path.utf8.count < 104 ? path : nil
  }

  /// The same with the NIC on `attachment`: slirp as above, or a tap the CLI put on the
  /// bridge (`script=no,downscript=no`: QEMU runs no scripts; `node down` deletes the tap).
  /// With `dataPort`, a second NIC, the node's data NIC (`dataArguments`).
  public static func qemuArguments(
    iso: String, log: String, attachment: NodeAttachment, nodeIndex: Int, memory: String,
    cpus: Int, dataPort: UInt16? = nil, monitor: String? = nil
  ) -> [String] {
    let netdev: String
    switch attachment {
    case .user(let hostPort):
      let guestAddress = address.split(separator: "/")[0]
      netdev =
        "user,id=mgmt,net=10.0.2.0/24,hostfwd=udp:127.0.0.1:\(hostPort)-\(guestAddress):\(controlPort)"
    case .tap(let name):
      netdev = "tap,id=mgmt,ifname=\(name),script=no,downscript=no"
    }
    return [
      "-machine", "pc", "-cpu", "EPYC", "-smp", "\(cpus)", "-m", memory,
      // The human monitor on a unix socket when asked (fault injection: `mce`), else none.
      "-display", "none", "-monitor",
      monitor.map { "unix:\($0),server=on,wait=off" } ?? "none", "-no-reboot",
      "-serial", "file:\(log)",
      "-netdev", netdev,
      "-device", "virtio-net-pci,netdev=mgmt,disable-legacy=on,mac=\(mac(forNode: nodeIndex))",
    ] + bootCDArguments(iso: iso)
      + (dataPort.map { dataArguments(port: $0, nodeIndex: nodeIndex) } ?? [])
  }

  /// The ISO as a CD on an AHCI controller of its own in slot 0x1d, rather than `-cdrom`'s
  /// IDE: SeaBIOS reads ATAPI on IDE by PIO, a port exit per word under TCG, and GRUB took
  /// 2.45 s to load a Linux ISO that way against 0.75 s over AHCI's DMA. Slot 0x1d is free on
  /// both pc and q35 (a node's extra arguments may pick q35). A comma in the path is doubled,
  /// as QEMU's option syntax wants.
  public static func bootCDArguments(iso: String) -> [String] {
    [
      "-drive",
      "file=\(iso.replacingOccurrences(of: ",", with: ",,")),media=cdrom,if=none,id=boot-cd,readonly=on",
      "-device", "ahci,id=boot-ahci,addr=0x1d",
      "-device", "ide-cd,drive=boot-cd,bus=boot-ahci.0,bootindex=0",
    ]
  }

  /// `PEREGRINE_NODE_QEMU_ARGS`: more QEMU arguments for every node, split at spaces, e.g. a
  /// PCI function to pass through to a VM (docs/passthrough.md: `-device
  /// virtio-net-pci,...,addr=0x11`). Unset or empty: none.
  public static func extraQEMUArguments(_ environment: [String: String]) -> [String] {
    (environment["PEREGRINE_NODE_QEMU_ARGS"] ?? "").split(separator: " ").map(String.init)
  }

  /// The data NIC: the uplink of the node's guest switch (docs/guest-io.md), a modern
  /// virtio-net in PCI slot 0x10 (where the kernel looks for it) on QEMU's multicast socket
  /// segment 230.0.0.1:`port`, a hub every node of the cluster joins without privileges
  /// (docs/management-network.md). MAC 52:54:00:51:HH:LL.
  public static func dataArguments(port: UInt16, nodeIndex: Int) -> [String] {
    let low = String(format: "%02x:%02x", (nodeIndex >> 8) & 0xFF, nodeIndex & 0xFF)
    return [
      "-netdev", "socket,id=data,mcast=230.0.0.1:\(port),localaddr=127.0.0.1",
      "-device", "virtio-net-pci,netdev=data,disable-legacy=on,addr=0x10,mac=52:54:00:51:\(low)",
    ]
  }

  /// The cluster's data segment port, from its key: the nodes of one cluster share it, and
  /// two clusters on one host (two state directories) are on different segments but for a
  /// 1 in 2,000 chance.
  public static func dataPort(for key: ClusterKey) -> UInt16 {
    48_000 + UInt16((Int(key.bytes[0]) << 8 | Int(key.bytes[1])) % 2000)
  }

  /// Bochs with a Skylake-X CPU (VT-x), COM1 to `log`, and an e1000 on Bochs' slirp with
  /// the same forwarding (slirp's config file, `slirpConfiguration`). `sync=slowdown`: a
  /// node's clock never runs ahead of the host's. With `sync=none` (the bench's setting,
  /// deterministic instruction counts) an idle, halted Bochs skips its time forward, so a
  /// node's seconds went by faster than the CLI's and its migration leases (30 s) lapsed
  /// in the middle of a migration. The BIOS's `fastboot` skips its 3 s boot-menu wait, which
  /// `sync=slowdown` makes 3 s of real time per node boot.
  public static func bochsConfiguration(
    iso: String, log: String, slirpConfiguration: String, nodeIndex: Int, memoryMiB: Int, cpus: Int
  ) -> String {
    """
    megs: \(memoryMiB)
    cpu: model=corei7_skylake_x, count=\(cpus), ips=100000000, reset_on_triple_fault=0
    clock: sync=slowdown, time0=local
    romimage: file=/usr/share/bochs/BIOS-bochs-latest, options=fastboot
    vgaromimage: file=/usr/share/vgabios/vgabios.bin
    ata0-master: type=cdrom, path=\(iso), status=inserted
    boot: cdrom
    com1: enabled=1, mode=file, dev=\(log)
    pci: enabled=1, chipset=i440fx
    e1000: enabled=1, mac=\(mac(forNode: nodeIndex)), ethmod=slirp, script=\(slirpConfiguration)
    display_library: term
    sound: driver=dummy
    speaker: enabled=0
    panic: action=fatal
    error: action=report
    info: action=ignore
    debug: action=ignore

    """
  }

  public static func slirpConfiguration(hostPort: UInt16) -> String {
    let guestAddress = address.split(separator: "/")[0]
    return """
      # slirp config
      hostfwd = udp:127.0.0.1:\(hostPort)-\(guestAddress):\(controlPort)

      """
  }
}
