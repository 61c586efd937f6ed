; wild-mmio.asm -- misbehaving guest: a write to an address with no device.
;
; In 32-bit protected mode (no paging), writes a dword to guest-physical 0xC0000000, in the
; MMIO hole below 4 GiB where no device is mapped.
; Expected under Peregrine (default unmapped=stop): prints "MISBEHAVING wild-mmio starting",
; then the hypervisor stops the VM on the unmapped access (an npf exit, kind 6) with a
; report. "FAIL still running" must never appear (it would under unmapped=ignore, where the
; write is dropped; the guest then stops itself with exit code 1).

%include "lib.inc"
%include "pmode.inc"
%include "exceptions.inc"

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SETUP_IDT32                 ; report any unexpected exception instead of triple faulting
    call detect_vendor
    PRINT "MISBEHAVING wild-mmio starting", 10
    mov dword [0xC0000000], 0xDEADBEEF
    PRINT "FAIL still running after writing to 0xC0000000", 10
    mov ebx, 1
    jmp stop

    EMIT_LIB
    EMIT_EXCEPTIONS32
