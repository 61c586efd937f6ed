; mmio-straddle.asm -- hardening guest: a 4-byte read that straddles the end of the MMIO
; test device's page (0xFED00FFE-0xFED01001), from long mode.
; The hypervisor splits the access by region: the two bytes in the device come from it, the
; two beyond reach no device, which under unmapped=stop stops the VM:
; "read of guest-physical 0xfed01000, where no device is mapped". (Under unmapped=ignore
; those bytes read as all ones.) "FAIL still running" must never appear.

%include "lib.inc"
%include "pmode.inc"
%include "lmode.inc"
%include "exceptions.inc"

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
    ENTER_LONG_MODE
main:
    SETUP_IDT64
    call detect_vendor
    PRINT "TEST mmio-straddle starting", 10
    mov ebx, MMIO_BASE
    mov eax, [rbx]
    cmp eax, MMIO_ID_VALUE
    CHECK e, "straddle-device-readable", "id=", rax
    mov eax, [rbx + 0xFFE]
    PRINT "FAIL still running after the straddling read, eax="
    call put_hex
    PRINT 10
    mov ebx, 1
    jmp stop

    EMIT_LIB
    EMIT_EXCEPTIONS64
