; timer-flood.asm -- a local APIC timer programmed to fire as often as it can (profile
; "apic=on"): initial count 1, divide by 1, periodic (SDM 3A §11.5.4). Unclamped, the timer
; would be due again at every entry and the guest's own code would never get past one
; instruction between interrupts. Peregrine clamps the period to 200 µs (docs/guest-abi.md),
; so the guest's loop of 10,000,000 iterations finishes while the interrupts keep coming.
; PASS timer-flood-interrupts (some arrived), PASS timer-flood-main-code-progresses; then
; DONE and exit code = failures. A companion VM beside it must finish in normal time.

%include "lib.inc"
%include "pmode.inc"
%include "apic.inc"

TIMER_VECTOR equ 0x40

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    call load_idt
    mov eax, timer_handler
    mov ecx, TIMER_VECTOR
    call set_gate
    PRINT "INFO timer-flood starting", 10
    mov dword [APIC_SVR], 0x1FF
    mov dword [APIC_TIMER_DIV], 0xB             ; divide by 1
    mov dword [APIC_LVT_TIMER], (1 << 17) | TIMER_VECTOR  ; periodic
    mov dword [APIC_TIMER_INIT], 1
    sti
    mov ecx, 10000000
.work:
    dec ecx
    jnz .work
    cli
    mov dword [APIC_TIMER_INIT], 0              ; stop the timer
    mov eax, [ticks]
    cmp eax, 0
    CHECK a, "timer-flood-interrupts", "ticks=", eax
    PRINT "INFO timer-flood ticks="
    call put_dec
    PRINT 10
    cmp ecx, 0
    CHECK e, "timer-flood-main-code-progresses"
    jmp finish

timer_handler:
    inc dword [ticks]
    mov dword [APIC_EOI], 0
    iretd

    EMIT_LIB
    EMIT_IDT_LIB

[section .data]
    align 4
ticks:          dd 0
