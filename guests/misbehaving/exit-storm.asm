; exit-storm.asm -- misbehaving guest: an exit storm.
;
; In real mode, loops forever on OUT 0x80, AL: every iteration is an I/O exit to an unknown
; port (ignored, counted), so the VM spends nearly all its time in the hypervisor.
; Expected under Peregrine: prints "MISBEHAVING exit-storm starting", then the storm detector
; (more than 90% of the VM's time in the hypervisor over a sustained window) stops the VM
; with a report; its statistics show a large io count. The loop never ends by itself.

%include "lib.inc"
%include "pmode.inc"
%include "exceptions.inc"

    org 0x1000
    REAL_MODE_START
main:
    INSTALL_REAL_MODE_UD
    call detect_vendor
    PRINT "MISBEHAVING exit-storm starting", 10
    xor eax, eax
.storm:
    out 0x80, al
    jmp .storm

    EMIT_LIB
    EMIT_REAL_MODE_UD
