/// Byte offsets of the VMCB fields Peregrine uses (AMD APM Vol 2, Appendix B: Table B-1
/// control area at 0x000, Table B-2 state save area at 0x400).
public enum VMCBOffset {
  // Control area.
  public static let interceptCR: Int = 0x000  // reads 15:0, writes 31:16
  public static let interceptDR: Int = 0x004
  public static let interceptExceptions: Int = 0x008
  public static let interceptMisc1: Int = 0x00C
  public static let interceptMisc2: Int = 0x010
  public static let pauseFilterThreshold: Int = 0x03C
  public static let pauseFilterCount: Int = 0x03E
  public static let iopmBasePA: Int = 0x040
  public static let msrpmBasePA: Int = 0x048
  public static let tscOffset: Int = 0x050
  public static let guestASID: Int = 0x058
  public static let tlbControl: Int = 0x05C
  public static let virtualInterrupt: Int = 0x060  // V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, V_INTR_VECTOR
  public static let interruptShadow: Int = 0x068
  public static let exitCode: Int = 0x070
  public static let exitInfo1: Int = 0x078
  public static let exitInfo2: Int = 0x080
  public static let exitInterruptInfo: Int = 0x088
  public static let nestedPagingEnable: Int = 0x090  // bit 0 NP_ENABLE
  public static let eventInjection: Int = 0x0A8
  public static let nestedCR3: Int = 0x0B0
  public static let virtualizationExtensions: Int = 0x0B8  // LBR virtualization, virtual VMSAVE/VMLOAD
  public static let vmcbClean: Int = 0x0C0
  public static let nextRIP: Int = 0x0C8
  public static let guestInstructionBytesCount: Int = 0x0D0
  public static let guestInstructionBytes: Int = 0x0D1

  // State save area: segments are 16 bytes each (selector, attributes, limit, base).
  public static let stateSave: Int = 0x400
  public static let es: Int = 0x400
  public static let cs: Int = 0x410
  public static let ss: Int = 0x420
  public static let ds: Int = 0x430
  public static let fs: Int = 0x440
  public static let gs: Int = 0x450
  public static let gdtr: Int = 0x460
  public static let ldtr: Int = 0x470
  public static let idtr: Int = 0x480
  public static let tr: Int = 0x490
  public static let cpl: Int = 0x4CB
  public static let efer: Int = 0x4D0
  public static let cr4: Int = 0x548
  public static let cr3: Int = 0x550
  public static let cr0: Int = 0x558
  public static let dr7: Int = 0x560
  public static let dr6: Int = 0x568
  public static let rflags: Int = 0x570
  public static let rip: Int = 0x578
  public static let rsp: Int = 0x5D8
  public static let rax: Int = 0x5F8
  public static let star: Int = 0x600
  public static let lstar: Int = 0x608
  public static let cstar: Int = 0x610
  public static let sfmask: Int = 0x618
  public static let kernelGSBase: Int = 0x620
  public static let sysenterCS: Int = 0x628
  public static let sysenterESP: Int = 0x630
  public static let sysenterEIP: Int = 0x638
  public static let cr2: Int = 0x640
  public static let guestPAT: Int = 0x668

  /// The VMCB is one 4 KiB page.
  public static let size: Int = 0x1000
}

/// Offsets inside one 16-byte segment register of the state save area.
public enum VMCBSegmentOffset {
  public static let selector: Int = 0
  public static let attributes: Int = 2
  public static let limit: Int = 4
  public static let base: Int = 8
}
