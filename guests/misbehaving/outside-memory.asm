; outside-memory.asm -- misbehaving guest: a read beyond the guest's RAM.
;
; In 32-bit protected mode (no paging), reads guest-physical 0x02000000 (32 MiB), beyond
; the 16 MiB of RAM the guest owns.
; Expected under Peregrine (default unmapped=stop): prints "MISBEHAVING outside-memory
; starting", then the hypervisor stops the VM on the unmapped access (npf, kind 6) with a
; report. "FAIL still running" must never appear.

%include "lib.inc"
%include "pmode.inc"
%include "exceptions.inc"

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SETUP_IDT32                 ; report any unexpected exception instead of triple faulting
    call detect_vendor
    PRINT "MISBEHAVING outside-memory starting", 10
    mov eax, [0x02000000]
    PRINT "FAIL still running after reading 0x02000000, value 0x"
    call put_hex
    PRINT 10
    mov ebx, 1
    jmp stop

    EMIT_LIB
    EMIT_EXCEPTIONS32
