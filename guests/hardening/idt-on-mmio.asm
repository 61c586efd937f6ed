; idt-on-mmio.asm -- hardening guest: the IDT lies on the MMIO test device's page, then a
; memory MOV raises #GP (a non-canonical address).
; Delivering the #GP reads IDT entry 13 at 0xFED000D0: a nested page fault during event
; delivery (SVM EXITINTINFO / VMX IDT-vectoring information valid). The hypervisor must not
; emulate the MOV at RIP as a device read (the #GP would vanish, RAX would get all ones): it
; stops the VM with "the processor could not deliver vector 13: its descriptor table or
; stack lies in MMIO or unmapped memory". "FAIL still running" must never appear.

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
    PRINT "TEST idt-on-mmio starting", 10
    lidt [mmio_idtr]
    mov rbx, 0x8000000000000000             ; non-canonical: #GP(0)
    mov rax, 0x1234
    mov rax, [rbx]
    PRINT "FAIL still running after the #GP, rax="
    call put_hex
    PRINT 10
    mov ebx, 1
    jmp stop

    EMIT_LIB
    EMIT_EXCEPTIONS64

[section .data]
mmio_idtr:
    dw 256 * 16 - 1
    dq MMIO_BASE
