; mmio-rep-stos-32.asm -- hardening guest: REP STOSD to the MMIO test device from 32-bit
; protected mode (no paging), with ECX as the count.
;   rep-stosd-32-ecx/edi   REP STOSD, ECX = 500, from 0xFED00100: ECX = 0, EDI += 2000
; Then the attack: EDI = 0xFED00008, ECX = 0xFFFFFFFF, REP STOSD: bounded chunks to the
; device's end, then "write to guest-physical 0xfed01000, where no device is mapped" stops
; the VM. "FAIL still running" must never appear.

%include "lib.inc"
%include "pmode.inc"
%include "exceptions.inc"

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SETUP_IDT32
    call detect_vendor
    PRINT "TEST mmio-rep-stos-32 starting", 10
    cld
    mov edi, MMIO_BASE + 0x100
    mov ecx, 500
    mov eax, 0xA5A5A5A5
    rep stosd
    test ecx, ecx
    CHECK z, "rep-stosd-32-ecx", "ecx=", ecx
    cmp edi, MMIO_BASE + 0x100 + 2000
    CHECK e, "rep-stosd-32-edi", "edi=", edi

    PRINT "INFO runaway rep stosd from 0xFED00008, ECX = 0xFFFFFFFF", 10
    mov edi, MMIO_BASE + 8
    mov ecx, 0xFFFFFFFF
    rep stosd
    PRINT "FAIL still running after the runaway rep stosd", 10
    mov ebx, 1
    jmp stop

    EMIT_LIB
    EMIT_EXCEPTIONS32
