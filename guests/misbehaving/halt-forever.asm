; halt-forever.asm -- misbehaving guest: HLT with interrupts disabled.
;
; In real mode, CLI then HLT: nothing can ever wake the vCPU.
; Expected under Peregrine: prints "MISBEHAVING halt-forever starting", then the hypervisor
; sees the hlt exit (kind 4) with RFLAGS.IF = 0 on its only vCPU and reports that the VM has
; stopped for good. "FAIL still running" must never appear.

%include "lib.inc"
%include "pmode.inc"
%include "exceptions.inc"

    org 0x1000
    REAL_MODE_START
main:
    INSTALL_REAL_MODE_UD
    call detect_vendor
    PRINT "MISBEHAVING halt-forever starting", 10
    cli
    hlt
    PRINT "FAIL still running after cli; hlt", 10
    mov ebx, 1
    jmp stop

    EMIT_LIB
    EMIT_REAL_MODE_UD
