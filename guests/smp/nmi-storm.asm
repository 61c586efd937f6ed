; nmi-storm.asm -- kvm-unit-tests' multiple-nmi as a flat guest (profile "cpus=2 apic=on"),
; through the xAPIC ICR: each round vCPU 0 sends itself an NMI while vCPU 1 sends it an NMI
; and then a fixed IPI; the round ends when vCPU 0's fixed-IPI handler has counted it. Two
; NMIs close together: one is handled while the other waits for the handler's IRET (SDM 3A
; §6.7.1), so vCPU 0 counts between one and two NMIs per round (two unless they merged). Every post kicks vCPU 0's host CPU out of its guest while vCPU 0 is
; entered again and again with an NMI injected: what docs/kvm-unit-tests.md ("A host panic
; on AMD-V") saw end the host under QEMU's multi-threaded TCG. Prints (vCPU 0):
;   PASS smp-vcpus-started
;   PASS nmi-storm-rounds          N_ROUNDS fixed IPIs arrived
;   PASS nmi-storm-nmis            N_ROUNDS to 2 * N_ROUNDS NMIs arrived
; then DONE failures=<n> and stops with that code.

%include "lib.inc"
%include "pmode.inc"
%include "apic.inc"
%include "smp.inc"

%ifndef N_ROUNDS
%define N_ROUNDS 20000
%endif
IPI_VECTOR equ 0x44

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SMP_ENTER
    test esi, esi
    jnz second_vcpu

    call detect_vendor
    call load_idt
    mov eax, nmi_handler
    mov ecx, 2
    call set_gate
    mov eax, ipi_handler
    mov ecx, IPI_VECTOR
    call set_gate
    mov dword [APIC_SVR], 0x1FF ; software enable, spurious vector 0xFF
    PRINT "INFO nmi-storm starting: rounds="
    mov eax, N_ROUNDS
    call put_dec
    PRINT 10
    mov edi, 2
    SMP_START_CHECKED
    mov dword [APIC_ICR_HIGH], 0        ; physical destination: APIC ID 0, itself
    sti
    xor ebx, ebx
.round:
    inc ebx
    mov [round], ebx                    ; vCPU 1 sends its pair now
    mov dword [APIC_ICR_LOW], ICR_NMI
.wait:
    pause
    cmp [ipi_count], ebx
    jb .wait
    cmp ebx, N_ROUNDS
    jb .round
    cli
    mov eax, [ipi_count]
    cmp eax, N_ROUNDS
    CHECK e, "nmi-storm-rounds", "ipis=", eax
    mov eax, [nmi_count]
    lea ecx, [eax - N_ROUNDS]           ; N_ROUNDS .. 2 * N_ROUNDS: 0 .. N_ROUNDS unsigned
    cmp ecx, N_ROUNDS
    CHECK be, "nmi-storm-nmis", "nmis=", eax
    jmp finish

second_vcpu:
    mov edi, 2
    call smp_start
    lidt [idt_descriptor]
    mov dword [APIC_SVR], 0x1FF
    mov dword [APIC_ICR_HIGH], 0        ; physical destination: APIC ID 0
    xor ebx, ebx                        ; rounds sent
.round:
    inc ebx
.wait_round:
    pause
    cmp [round], ebx
    jb .wait_round
    mov dword [APIC_ICR_LOW], ICR_NMI
    mov dword [APIC_ICR_LOW], IPI_VECTOR
.wait_ack:
    pause
    cmp [ipi_count], ebx
    jb .wait_ack
    cmp ebx, N_ROUNDS
    jb .round
.park:
    cli
    hlt
    jmp .park

nmi_handler:
    inc dword [nmi_count]
    iretd

ipi_handler:
    inc dword [ipi_count]
    mov dword [APIC_EOI], 0
    iretd

    EMIT_LIB
    EMIT_IDT_LIB
    EMIT_SMP_LIB

[section .data]
    align 4
nmi_count:      dd 0
round:          dd 0
ipi_count:      dd 0
