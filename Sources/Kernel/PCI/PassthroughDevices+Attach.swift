import HypervisorCore
import Memory
import PCI

extension PassthroughDevices {
  /// Puts each host function `vm` owns on its virtual PCI bus (PCIPlatform.attach) as a
  /// `PassthroughPCIFunction` built from what the host function says of itself, and maps
  /// its BARs' MMIO into the VM's nested paging (`PassthroughMapping`). At VM build, after
  /// `attachDomain` (DMA already confined) and before any vCPU runs; nil when done, else
  /// why the VM can't be built.
  static func attachFunctions<Format: WriteTrackableFormat>(
    _ vm: VirtualMachine, space: GuestAddressSpace<Format>
  ) -> StaticString? {
    logHypervisorChecksum("before the VM runs")
    var guards: [NVMeAdminShadow] = []
    guard vm.pciPlatform != nil else {
      return "a passed-through PCI function needs the VM's PCI bus (kind=linux, multiboot or apic)"
    }
    for function in vm.profile.passthrough {
      let address = PCIAddress(
        bus: function.bus, device: function.device, function: function.function)
      guard let found = PCIBus.function(at: address),
        let description = PassthroughHostFunction.describe(found)
      else { return "a passed-through PCI function no longer answers on the node's bus" }
      let access = HostPassthroughAccess(address: address, description: description)
      guard access.mapBARs() else {
        return "a passed-through PCI function's BARs could not be mapped by the node"
      }
      // Quiet until the guest's configuration says otherwise (PCIPlatform.attach turns
      // memory decoding on, as firmware would; bus mastering waits for the guest's driver).
      access.setCommand(memorySpace: false, busMaster: false)
      let guestView = PassthroughPCIFunction(
        host: function, description: description, access: access)
      let slot: Int
      switch PCIPlatform.attach(guestView, to: vm) {
      case .success(let attachment): slot = attachment.slot
      case .failure(let refusal): return refusal.message
      }
      // Its MSI (if it has one) to a node vector whose handler sends the guest's message.
      let vector =
        description.hasMSI
        ? PassthroughInterrupts.route(function, guest: guestView, found: found) : nil
      // Its MSI-X table's entries to node vectors, all or none: a guest whose MSI-X never
      // fires would wait on its driver forever, so too few free vectors refuse the VM.
      guard
        let msixVectors = PassthroughInterrupts.routeMSIX(function, guest: guestView, found: found)
      else {
        if Log.begin(.warning) {
          Console.write("passthrough: vm ")
          Console.write(bytes: vm.name)
          Console.write(": pci ")
          Console.write(bytes: function.text)
          Console.write(" refused: its MSI-X table needs ")
          Console.write(
            decimal: UInt64(
              min(description.msix?.tableSize ?? 0, PassthroughInterrupts.entriesPerFunction)))
          Console.write(" node vectors, ")
          Console.write(decimal: UInt64(PassthroughInterrupts.freeCount))
          Console.write(" of the node's ")
          Console.write(decimal: UInt64(PassthroughInterrupts.count))
          Console.write(" passthrough vectors are free")
          Log.end()
        }
        return "the node has too few interrupt vectors left for a passed-through function's MSI-X"
      }
      // An NVMe VF's register page is the admin guard's (before the first mapping).
      if let queue = NVMeShadowQueues.queue(for: function) {
        let shadow = NVMeAdminShadow(
          vm: vm, access: access, queue: queue,
          protect: { [unowned(unsafe) space, unowned(unsafe) vm] pages in
            space.protectPages(pages, for: vm)
          },
          allow: { [unowned(unsafe) space, unowned(unsafe) vm] pages in
            space.allowPages(pages, for: vm)
          })
        guestView.interposer = shadow
        guards.append(shadow)
      }
      let mapping = PassthroughMapping(vm: vm, space: space, function: guestView)
      guestView.mappingChanged = { mapping.update() }
      mapping.update()
      if Log.begin(.info) {
        Console.write("passthrough: vm ")
        Console.write(bytes: vm.name)
        Console.write(": pci ")
        Console.write(bytes: function.text)
        Console.write(" in guest slot 00:")
        NetLog.hex(UInt64(slot), digits: 2)
        Console.write(".0, ")
        NetLog.hex(UInt64(description.vendorID), digits: 4)
        Console.write(":")
        NetLog.hex(UInt64(description.deviceID), digits: 4)
        for (index, bar) in description.bars.enumerated() {
          guard let bar, let guest = guestView.configuration.address(ofBAR: index) else {
            continue
          }
          Console.write(" bar")
          Console.write(decimal: UInt64(index))
          Console.write(" ")
          Console.write(hex: guest)
          Console.write("->")
          Console.write(hex: bar.hostAddress)
          Console.write("+")
          Console.write(hex: bar.bar.size)
        }
        if let msix = description.msix {
          Console.write(", MSI-X table trapped, ")
          Console.write(decimal: UInt64(msixVectors.count))
          Console.write(" of ")
          Console.write(decimal: UInt64(msix.tableSize))
          Console.write(" entries on host vectors")
          if let first = msixVectors.first, let last = msixVectors.last {
            Console.write(" ")
            Console.write(hex: UInt64(first))
            Console.write("-")
            Console.write(hex: UInt64(last))
          }
        } else {
          Console.write(", no MSI-X")
        }
        if let vector {
          Console.write(", MSI on host vector ")
          Console.write(hex: UInt64(vector))
        } else if description.hasMSI {
          Console.write(", MSI not routed (no host vector free)")
        }
        if guestView.interposer != nil {
          Console.write(", NVMe admin guard (register page trapped, shadow admin queue at IOVA ")
          Console.write(hex: NVMeShadowQueues.queue(for: function)?.iova ?? 0)
          Console.write(")")
        }
        Log.end()
      }
    }
    // The stores nested paging refuses on the guards' write-protected pages land here.
    if !guards.isEmpty {
      for region in vm.memory.regions {
        vm.mmio.register(
          GuardedRAMWindow(base: region.guestPhysical, vm: vm, guards: guards),
          base: region.guestPhysical, size: region.size)
      }
    }
    return nil
  }
}

/// One passed-through function's BARs in its VM's nested page tables: each range
/// `PassthroughPCIFunction.mappableRanges` lists (memory decoding on, the BAR wholly in the
/// VM's PCI window, the MSI-X table's page left out) mapped onto the host MMIO with the
/// uncacheable type (NPT: PCD|PWT, APM Vol 2 §15.25.8, combined with the guest's PAT the
/// stronger type wins; EPT: memory type 0, SDM 3C §29.3.7), so guest accesses there don't
/// exit. Redone whenever the guest moves a BAR or toggles decoding; each map and unmap makes
/// every CPU running one of the VM's vCPUs flush its nested translations before its next
/// entry (`GuestAddressSpace.map`). Edits hold the dirty log's lock, the other editor of
/// the VM's nested tables. Whole 4 KiB pages only: a smaller BAR stays trapped.
final class PassthroughMapping<Format: WriteTrackableFormat> {
  unowned(unsafe) let vm: VirtualMachine
  unowned(unsafe) let space: GuestAddressSpace<Format>
  unowned(unsafe) let function: PassthroughPCIFunction
  private(set) var mapped: [(guest: UInt64, length: UInt64)] = []
  /// Updates that changed the mapping (the guest moved a BAR or toggled decoding).
  private(set) var updates: UInt64 = 0

  static var window: Range<UInt64> {
    PCIPlatform.memoryWindowBase..<PCIPlatform.memoryWindowBase + PCIPlatform.memoryWindowSize
  }

  init(vm: VirtualMachine, space: GuestAddressSpace<Format>, function: PassthroughPCIFunction) {
    self.vm = vm
    self.space = space
    self.function = function
  }

  func update() {
    let wanted = function.mappableRanges(window: Self.window).filter {
      $0.guest & 0xFFF == 0 && $0.host & 0xFFF == 0 && $0.size & 0xFFF == 0 && $0.size > 0
    }
    let hadPages = !mapped.isEmpty
    vm.dirtyLog.lock.withLock {
      for range in mapped {
        _ = space.unmap(guestPhysical: range.guest, length: range.length, for: vm)
      }
      mapped.removeAll()
      for range in wanted {
        // Another function's BAR the guest moved on top of this one keeps its pages.
        var free = true
        var page = range.guest
        while page < range.guest + range.size {
          if space.tables.translate(page) != nil {
            free = false
            break
          }
          page += 4096
        }
        guard free,
          space.map(
            guestPhysical: range.guest, host: range.host, length: range.size,
            permissions: [.read, .write, .user], memoryType: .uncacheable, for: vm)
        else { continue }
        mapped.append((range.guest, range.size))
      }
      updates &+= 1
    }
    // BAR sizing with decoding off changes nothing mapped: no line for it.
    guard hadPages || !mapped.isEmpty, Log.begin(.info) else { return }
    Console.write("passthrough: vm ")
    Console.write(bytes: vm.name)
    Console.write(": pci ")
    Console.write(bytes: function.host.text)
    Console.write(" nested paging")
    if mapped.isEmpty { Console.write(" maps none of its BARs (trapped)") }
    for range in mapped {
      Console.write(" ")
      Console.write(hex: range.guest)
      Console.write("+")
      Console.write(hex: range.length)
    }
    Console.write(" UC")
    Log.end()
  }
}

extension PassthroughDevices {
  /// A checksum (FNV-1a over 64-bit words) of the hypervisor's text and read-only data:
  /// memory no CPU writes after boot but a device's DMA could if the IOMMU let it. Logged
  /// when a VM gets functions and when a function is freed, so a test compares the two
  /// around a guest's DMA attacks (docs/passthrough.md).
  static func logHypervisorChecksum(_ when: StaticString) {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for range in [KernelLayout.text, KernelLayout.rodata] {
      var address = range.start & ~7
      while address < range.end {
        hash =
          (hash ^ UnsafePointer<UInt64>(bitPattern: UInt(address))!.pointee)
          &* 0x100_0000_01B3
        address += 8
      }
    }
    guard Log.begin(.info) else { return }
    Console.write("passthrough: hypervisor text+rodata checksum ")
    Console.write(hex: hash)
    Console.write(" (")
    Console.write(when)
    Console.write(")")
    Log.end()
  }
}
