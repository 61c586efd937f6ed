import HypervisorCore

/// A VM's saved state as the node sends it (`SavedVMState`'s records, docs/vm-state.md),
/// decoded with the kernel's own decoder and laid out as named fields: per vCPU its
/// registers, control registers, segments (fields `cs.selector`, `cs.base`, ...) and, in
/// words, its mode, activity and pending event; per device model its name and registers.
enum SavedStateSections {
  static func sections(of bytes: [UInt8]) throws(StateDecodingError) -> [StateSection] {
    let state = try SavedVMState.decoded(bytes)
    var sections = [
      StateSection(
        title: "vm",
        fields: [
          StateField(name: "memory", value: state.memorySize),
          StateField(name: "vcpus", value: UInt64(state.vcpus.count), width: 16),
          StateField(name: "devices", value: UInt64(state.devices.count), width: 16),
        ])
    ]
    for (index, vcpu) in state.vcpus.enumerated() {
      sections.append(section(vcpu.architectural, index: index))
      if let apic = vcpu.localAPIC { sections.append(section(apic, title: "local apic \(index)")) }
    }
    for device in state.devices { sections.append(section(device)) }
    return sections
  }

  /// Why the bytes are not a VM's saved state, in words.
  static func describe(_ error: StateDecodingError) -> String {
    switch error {
    case .truncated(let at, let needed): "cut off at byte \(at) (\(needed) more bytes needed)"
    case .badMagic: "a record without the PGST magic"
    case .unsupportedVersion(let version):
      "record format version \(version), not \(StateRecord.version)"
    case .wrongKind(let expected, let found): "a record of kind \(found) where \(expected) belongs"
    case .lengthMismatch(let declared, let actual):
      "a record declaring \(declared) payload bytes where \(actual) remain"
    case .invalidValue(let at): "an impossible value at byte \(at)"
    case .countOutOfRange(let at, let count, let maximum):
      "a count of \(count) at byte \(at), over its maximum \(maximum)"
    case .trailingBytes(let at): "bytes after a record's fields at byte \(at)"
    case .recordCount(let expected, let found):
      "\(found) records where the header announces \(expected)"
    }
  }

  // MARK: vCPUs

  static func section(_ state: VCPUArchitecturalState, index: Int) -> StateSection {
    let registers = state.registers
    var fields = [
      StateField(name: "rip", value: registers.rip),
      StateField(name: "rsp", value: registers.rsp),
      StateField(name: "rflags", value: registers.rflags, width: 32),
      StateField(name: "rax", value: registers.rax),
      StateField(name: "rbx", value: registers.rbx),
      StateField(name: "rcx", value: registers.rcx),
      StateField(name: "rdx", value: registers.rdx),
      StateField(name: "rsi", value: registers.rsi),
      StateField(name: "rdi", value: registers.rdi),
      StateField(name: "rbp", value: registers.rbp),
      StateField(name: "cr0", value: state.cr0, width: 32),
      StateField(name: "cr2", value: state.cr2),
      StateField(name: "cr3", value: state.cr3),
      StateField(name: "cr4", value: state.cr4, width: 32),
      StateField(name: "efer", value: state.efer, width: 16),
    ]
    let segments: [(String, SegmentState)] = [
      ("cs", state.cs), ("ss", state.ss), ("ds", state.ds), ("es", state.es), ("fs", state.fs),
      ("gs", state.gs), ("tr", state.tr), ("ldtr", state.ldtr),
    ]
    for (name, segment) in segments {
      fields += [
        StateField(name: "\(name).selector", value: UInt64(segment.selector), width: 16),
        StateField(name: "\(name).base", value: segment.base),
        StateField(name: "\(name).limit", value: UInt64(segment.limit), width: 32),
        StateField(
          name: "\(name).attributes", value: UInt64(segment.attributes.rawValue), width: 12),
      ]
    }
    for (name, table) in [("gdtr", state.gdtr), ("idtr", state.idtr)] {
      fields += [
        StateField(name: "\(name).base", value: table.base),
        StateField(name: "\(name).limit", value: UInt64(table.limit), width: 16),
      ]
    }
    fields.append(StateField(name: "tsc_offset", value: state.tscOffset))
    return StateSection(
      title: "vcpu \(index)", fields: fields,
      notes: [
        "mode: \(mode(of: state))",
        "activity: \(activity(state.activity))",
        "pending event: \(event(state.pendingEvent))",
        "interrupt shadow: \(shadow(state.interruptShadow)), NMIs \(state.nmiBlocked ? "blocked" : "not blocked")",
      ])
  }

  /// From CR0.PE/PG, CR4.PAE, EFER.LMA and CS.L/D (SDM 3A §2.2, §9.8).
  static func mode(of state: VCPUArchitecturalState) -> String {
    let protected = state.cr0 & 1 != 0
    let paging = state.cr0 & (1 << 31) != 0
    guard protected else { return "real mode" }
    if state.efer & (1 << 10) != 0 {
      return state.cs.attributes.isLongMode
        ? "64-bit long mode (EFER.LMA)" : "compatibility mode (EFER.LMA)"
    }
    let bits = state.cs.attributes.isDefaultBig ? "32-bit" : "16-bit"
    if !paging { return "\(bits) protected mode, no paging" }
    return "\(bits) protected mode, \(state.cr4 & (1 << 5) != 0 ? "PAE paging" : "paging")"
  }

  static func activity(_ activity: VirtualCPU.State) -> String {
    switch activity {
    case .runnable: "runnable"
    case .halted: "halted (waits for an interrupt)"
    case .waitingForStartup: "waiting for a start-up IPI"
    case .stopped: "stopped"
    }
  }

  static func event(_ event: PendingEvent?) -> String {
    switch event {
    case nil: "none"
    case .exception(let vector, let code?):
      "exception \(vector) (error code \(Formatting.hex(UInt64(code), width: 32)))"
    case .exception(let vector, nil): "exception \(vector)"
    case .externalInterrupt(let vector):
      "external interrupt \(Formatting.hex(UInt64(vector), width: 8))"
    case .nmi: "NMI"
    }
  }

  static func shadow(_ shadow: InterruptShadow) -> String {
    switch shadow {
    case .none: "none"
    case .sti: "after STI"
    case .movSS: "after MOV SS"
    }
  }

  // MARK: Devices

  static func section(_ apic: LocalAPICModel.State, title: String) -> StateSection {
    var fields = [
      StateField(name: "apic_base", value: apic.baseMSR),
      StateField(name: "tpr", value: UInt64(apic.taskPriority), width: 8),
      StateField(name: "svr", value: UInt64(apic.spurious), width: 16),
      StateField(name: "lvt_timer", value: UInt64(apic.localVectorTable[0]), width: 32),
      StateField(name: "initial_count", value: UInt64(apic.initialCount), width: 32),
      StateField(name: "divide", value: UInt64(apic.divideConfiguration), width: 8),
    ]
    if let remaining = apic.timerRemainingNanoseconds {
      fields.append(StateField(name: "timer_remaining_ns", value: remaining))
    }
    let inService = vectors(apic.inService)
    let requested = vectors(apic.requests)
    return StateSection(
      title: title, fields: fields,
      notes: [
        "timer: \(apic.timerRemainingNanoseconds.map { "fires in \($0) ns" } ?? "not armed")",
        "in service: \(inService.isEmpty ? "none" : inService), requested: \(requested.isEmpty ? "none" : requested)",
      ])
  }

  /// The vectors whose bits are set in a 256-bit register (ISR, IRR), as hex.
  static func vectors(_ words: [UInt32]) -> String {
    var vectors: [String] = []
    for (word, bits) in words.enumerated() {
      for bit in 0..<32 where bits & (1 << UInt32(bit)) != 0 {
        vectors.append(Formatting.hex(UInt64(word * 32 + bit), width: 8))
      }
    }
    return vectors.joined(separator: " ")
  }

  static func section(_ device: SavedDevice) -> StateSection {
    switch device {
    case .uart(let uart):
      return StateSection(
        title: "uart (COM1)",
        fields: [
          StateField(name: "ier", value: UInt64(uart.interruptEnable), width: 8),
          StateField(name: "lcr", value: UInt64(uart.lineControl), width: 8),
          StateField(name: "mcr", value: UInt64(uart.modemControl), width: 8),
          StateField(name: "fcr", value: UInt64(uart.fifoControl), width: 8),
          StateField(name: "scratch", value: UInt64(uart.scratch), width: 8),
          StateField(name: "divisor", value: UInt64(uart.divisor), width: 16),
          StateField(name: "transmitted", value: uart.transmitted),
        ],
        notes: ["\(uart.transmitted) bytes sent"])
    case .pit(let pit):
      var fields: [StateField] = []
      var notes: [String] = []
      for (index, channel) in pit.channels.enumerated() {
        fields += [
          StateField(name: "ch\(index).mode", value: UInt64(channel.mode), width: 8),
          StateField(name: "ch\(index).reload", value: UInt64(channel.reload), width: 32),
          StateField(name: "ch\(index).counting", value: channel.counting ? 1 : 0, width: 8),
        ]
        notes.append(
          "channel \(index): mode \(channel.mode), reload \(channel.reload), \(channel.counting ? "counting for \(channel.elapsedNanoseconds) ns" : "stopped")"
        )
      }
      fields.append(StateField(name: "port_b", value: UInt64(pit.portB), width: 8))
      return StateSection(title: "pit (8254)", fields: fields, notes: notes)
    case .ioAPIC(let ioapic):
      var fields = [StateField(name: "select", value: UInt64(ioapic.select), width: 8)]
      for (pin, entry) in ioapic.entries.enumerated() where entry & (1 << 16) == 0 {
        fields.append(StateField(name: "pin\(pin)", value: entry))
      }
      let unmasked = ioapic.entries.filter { $0 & (1 << 16) == 0 }.count
      return StateSection(
        title: "io apic", fields: fields,
        notes: ["\(unmasked) of \(ioapic.entries.count) pins unmasked"])
    case .acpiPower(let power):
      return StateSection(
        title: "acpi power (PM1a)",
        fields: [
          StateField(name: "status", value: UInt64(power.status), width: 16),
          StateField(name: "enable", value: UInt64(power.enable), width: 16),
          StateField(name: "control", value: UInt64(power.control), width: 16),
        ])
    case .testMMIO(let device):
      return StateSection(
        title: "test mmio",
        fields: [
          StateField(name: "scratch", value: device.scratch),
          StateField(name: "accesses", value: device.accesses),
        ])
    case .localAPIC(let apic): return section(apic, title: "local apic")
    case .reset: return StateSection(title: "reset port", fields: [])
    case .debugExit: return StateSection(title: "debug exit port", fields: [])
    case .pmTimer(let timer):
      return StateSection(
        title: "acpi pm timer",
        fields: [StateField(name: "elapsed_ns", value: timer.elapsedNanoseconds)],
        notes: ["counting for \(timer.elapsedNanoseconds) ns of guest time"])
    case .firmwareConfig(let config):
      return StateSection(
        title: "fw_cfg",
        fields: [
          StateField(name: "selector", value: UInt64(config.selector), width: 16),
          StateField(name: "offset", value: UInt64(config.offset), width: 32),
        ])
    case .pciBus(let bus):
      return StateSection(
        title: "pci bus 0",
        fields: [
          StateField(name: "cf8", value: UInt64(bus.addressLatch), width: 32),
          StateField(name: "slots", value: UInt64(bus.occupiedSlots), width: 32),
        ])
    case .pciFunction(let function):
      return StateSection(
        title: "pci function \(identity(function.configuration))",
        fields: configurationFields(function.configuration))
    case .virtioPCI(let virtio):
      var fields = configurationFields(virtio.configuration)
      fields += [
        StateField(name: "status", value: UInt64(virtio.status), width: 8),
        StateField(name: "driver_features", value: virtio.driverFeatures),
        StateField(name: "msix_config", value: UInt64(virtio.configurationVector), width: 16),
        StateField(name: "isr", value: UInt64(virtio.interruptStatus), width: 8),
      ]
      var notes: [String] = []
      for (index, queue) in virtio.queues.enumerated() {
        fields += [
          StateField(name: "q\(index).desc", value: queue.descriptorTable),
          StateField(name: "q\(index).last_avail", value: UInt64(queue.lastAvailable), width: 16),
          StateField(name: "q\(index).used", value: UInt64(queue.usedIndex), width: 16),
        ]
        notes.append(
          "queue \(index): \(queue.enabled ? "enabled" : "off"), size \(queue.size), vector \(queue.vector)"
        )
      }
      return StateSection(
        title: "virtio pci \(identity(virtio.configuration))", fields: fields, notes: notes)
    case .virtioBlock(let block):
      return StateSection(
        title: "virtio-blk",
        fields: [
          StateField(name: "capacity", value: block.capacity),
          StateField(name: "features", value: block.negotiatedFeatures),
        ],
        notes: [
          "\(block.readOnly ? "read-only" : "read-write")\(block.needsReset ? ", needs reset" : "")"
        ])
    case .virtioNet(let net):
      return StateSection(
        title: "virtio-net", fields: [StateField(name: "mac", value: net.mac)],
        notes: net.receiveFault.map { ["receive fault: \($0)"] } ?? [])
    case .virtioEntropy: return StateSection(title: "virtio-rng", fields: [])
    case .pic(let pic):
      var fields: [StateField] = []
      for (name, chip) in [("master", pic.master), ("slave", pic.slave)] {
        fields += [
          StateField(name: "\(name).irr", value: UInt64(chip.requests), width: 8),
          StateField(name: "\(name).isr", value: UInt64(chip.inService), width: 8),
          StateField(name: "\(name).imr", value: UInt64(chip.mask), width: 8),
          StateField(name: "\(name).base", value: UInt64(chip.vectorBase), width: 8),
        ]
      }
      return StateSection(title: "pic (8259 pair)", fields: fields)
    case .pcTestDevice(let device):
      return StateSection(
        title: "pc-testdev",
        fields: [
          StateField(name: "data", value: UInt64(device.data), width: 32),
          StateField(name: "lines", value: UInt64(device.lineLevels), width: 32),
        ])
    case .pcTestIORAM(let ram):
      let used = ram.bytes.filter { $0 != 0 }.count
      return StateSection(
        title: "pc-testdev io ram", fields: [],
        notes: ["\(used) of \(ram.bytes.count) bytes non-zero"])
    case .cmosClock(let clock):
      let ram = clock.bytes.count == 128 ? clock.bytes[0x0E...].filter { $0 != 0 }.count : 0
      return StateSection(
        title: "rtc (CMOS)",
        fields: [
          StateField(name: "index", value: UInt64(clock.index), width: 8),
          StateField(name: "nmi_disabled", value: clock.nmiDisabled ? 1 : 0, width: 8),
          StateField(
            name: "reg_a", value: UInt64(clock.bytes.count > 0x0B ? clock.bytes[0x0A] : 0), width: 8
          ),
          StateField(
            name: "reg_b", value: UInt64(clock.bytes.count > 0x0B ? clock.bytes[0x0B] : 0), width: 8
          ),
          StateField(name: "offset_seconds", value: UInt64(bitPattern: clock.offsetSeconds)),
        ],
        notes: [
          "the guest's clock is \(clock.offsetSeconds) s from the node's; \(ram) of 114 RAM bytes non-zero"
        ])
    }
  }

  /// "vendor:device" of a saved configuration space.
  static func identity(_ image: [UInt8]) -> String {
    guard image.count >= 4 else { return "?" }
    let vendor = UInt64(image[0]) | UInt64(image[1]) << 8
    let device = UInt64(image[2]) | UInt64(image[3]) << 8
    return "\(Formatting.hex(vendor, width: 16)):\(Formatting.hex(device, width: 16))"
  }

  /// The command register, BARs and interrupt line of a saved configuration space.
  static func configurationFields(_ image: [UInt8]) -> [StateField] {
    func u32(_ offset: Int) -> UInt64 {
      guard offset + 4 <= image.count else { return 0 }
      return (0..<4).reduce(UInt64(0)) { $0 | UInt64(image[offset + $1]) << (8 * UInt64($1)) }
    }
    var fields = [StateField(name: "command", value: u32(0x04) & 0xFFFF, width: 16)]
    for bar in 0..<6 where u32(0x10 + 4 * bar) != 0 {
      fields.append(StateField(name: "bar\(bar)", value: u32(0x10 + 4 * bar), width: 32))
    }
    fields.append(StateField(name: "interrupt_line", value: u32(0x3C) & 0xFF, width: 8))
    return fields
  }
}
