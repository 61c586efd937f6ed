; triple-fault.asm -- misbehaving guest: triple fault.
;
; Switches to 32-bit protected mode, loads an IDT with limit 0 and executes INT3: the
; breakpoint cannot be delivered (#GP), nor can the #GP (#DF), nor the double fault, so
; the processor shuts down (triple fault).
; Expected under Peregrine: prints "MISBEHAVING triple-fault starting", then the hypervisor
; stops the VM on the shutdown exit (kind 12) with a dump of its state; the hypervisor and
; the other VMs go on. "FAIL still running" must never appear.

%include "lib.inc"
%include "pmode.inc"

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    PRINT "MISBEHAVING triple-fault starting", 10
    lidt [empty_idt]
    int3
    PRINT "FAIL still running after a triple fault", 10
    mov ebx, 1
    jmp stop

    EMIT_LIB

[section .data]
    align 8
empty_idt:
    dw 0                        ; limit 0: no vector can be delivered
    dd 0
