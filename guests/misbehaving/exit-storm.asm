; exit-storm.asm -- misbehaving guest: an exit storm (an instruction that never completes).
;
; In 32-bit protected mode, RDMSR of an MSR no policy allows (0x12345678: outside the MSR
; permission maps, so it always exits) is refused by the hypervisor with #GP(0); the guest's
; #GP handler returns to the RDMSR, which exits again, forever. Every exit is at the same
; RIP and none completes its instruction: the exit-storm detector (100,000 such exits in a
; row) stops the VM with a report. Expected under Peregrine: prints "MISBEHAVING exit-storm
; starting", then is stopped ("exit storm: 100000 exits in a row at one instruction without
; completing it"); its statistics show a large rdmsr count. The loop never ends by itself.

%include "lib.inc"
%include "pmode.inc"

STORM_MSR equ 0x12345678

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    ; An IDT whose #GP gate returns to the faulting instruction.
    mov eax, gp_retry
    mov [idt + 13 * 8], ax
    mov word [idt + 13 * 8 + 2], CODE32_SEL
    mov word [idt + 13 * 8 + 4], 0x8E00         ; present, DPL 0, 32-bit interrupt gate
    shr eax, 16
    mov [idt + 13 * 8 + 6], ax
    lidt [idt_descriptor]
    PRINT "MISBEHAVING exit-storm starting", 10
    mov ecx, STORM_MSR
.storm:
    rdmsr
    PRINT "FAIL still running: the RDMSR completed", 10
    mov ebx, 1
    jmp stop

gp_retry:
    add esp, 4                                  ; the error code
    iretd                                       ; back to the RDMSR

    EMIT_LIB

[section .data]
    align 8
idt:
    times 14 dq 0
idt_descriptor:
    dw 14 * 8 - 1
    dd idt
