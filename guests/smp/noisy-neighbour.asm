; noisy-neighbour.asm -- a misbehaving 2-vCPU VM to run beside a pinned one (profile
; "cpus=2 apic=on"). 32-bit protected mode, one IDT built by vCPU 0.
;
; Both vCPUs make exits as fast as they can for NOISE_ROUNDS rounds: CPUID, OUT to an
; unhandled port, and a fixed IPI to the other vCPU (which its CPU must deliver: a kick when
; that vCPU runs on another core). Then vCPU 0 prints
;   MISBEHAVING noisy-neighbour: triple fault while vCPU 1 keeps exiting
; and triple-faults (IDT limit 0, INT3); vCPU 1 never stops making exits. The hypervisor
; must stop the VM on the shutdown, vCPU 1 included. Nothing it does may reach a VM pinned
; on another core (pinned-compute counts its own exits). "FAIL still running" must never
; appear. Also prints PASS smp-vcpus-started and INFO lines with its progress.

%include "lib.inc"
%include "pmode.inc"
%include "apic.inc"
%include "smp.inc"

NOISE_VECTOR equ 0x50
%ifndef NOISE_ROUNDS
NOISE_ROUNDS equ 3000
%endif

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SMP_ENTER
    mov edi, 2
    test esi, esi
    jnz .second
    call detect_vendor
    call load_idt
    mov eax, noise_handler
    mov ecx, NOISE_VECTOR
    call set_gate
    PRINT "INFO noisy-neighbour starting: rounds="
    mov eax, NOISE_ROUNDS
    call put_dec
    PRINT 10
    SMP_START_CHECKED
    jmp .noise
.second:
    call smp_start
    lidt [idt_descriptor]
.noise:
    mov dword [APIC_SVR], 0x1FF ; software enable, spurious vector 0xFF
    mov eax, esi
    xor eax, 1                  ; the other vCPU's APIC ID
    shl eax, 24
    mov [APIC_ICR_HIGH], eax
    sti
    xor ebp, ebp                ; rounds (CPUID clobbers EAX-EDX)
.round:
    xor eax, eax
    cpuid
    out 0x80, al                ; no device: ignored, counted
    mov dword [APIC_ICR_LOW], NOISE_VECTOR
    inc ebp
    test esi, esi
    jnz .round                  ; vCPU 1: forever
    cmp ebp, NOISE_ROUNDS
    jb .round
    cli
    PRINT "INFO noisy-neighbour: rounds done: "
    mov eax, ebp
    call put_dec
    PRINT ", IPIs received by vCPU 0: "
    mov eax, [received]
    call put_dec
    PRINT 10
    PRINT "MISBEHAVING noisy-neighbour: triple fault while vCPU 1 keeps exiting", 10
    lidt [empty_idt]
    int3
    PRINT "FAIL still running after a triple fault", 10
    mov ebx, 1
    jmp stop

noise_handler:
    push eax
    mov eax, [APIC_ID]
    shr eax, 24
    lock inc dword [received + eax * 4]
    mov dword [APIC_EOI], 0
    pop eax
    iretd

    EMIT_LIB
    EMIT_IDT_LIB
    EMIT_SMP_LIB

[section .data]
    align 8
empty_idt:
    dw 0                        ; limit 0: no vector can be delivered
    dd 0
    align 4
received:   dd 0, 0
