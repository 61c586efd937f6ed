; ipi-pingpong.asm -- the IPI round trip between two vCPUs of one VM, as the guest sees it
; (profile "cpus=2 apic=on"). 32-bit protected mode, one IDT built by vCPU 0.
;
; vCPU 0 sends a fixed IPI (vector 0x50, physical destination APIC ID 1) to vCPU 1, whose
; handler answers at once with a fixed IPI (vector 0x51) to vCPU 0; vCPU 0 waits for the
; answer, then sends the next. RDTSC on vCPU 0 times the whole series. Two ways to wait:
;   hlt   both vCPUs wait in HLT (IF = 1): N_HLT round trips. Where both vCPUs share one
;         physical CPU, each HLT hands the CPU to the other vCPU at once.
;   spin  both vCPUs spin with IF = 1 (PAUSE, no exits): N_SPIN round trips. On one physical
;         CPU each hop waits for the other vCPU's turn (the scheduler's time slice); on two,
;         this is the delivery latency to a running vCPU (a host IPI kicks it out).
; Prints (vCPU 0):
;   BENCH ipi-roundtrip <cycles>        guest TSC cycles per round trip, HLT waits
;   BENCH ipi-roundtrip-spin <cycles>   the same with spinning waits
;   PASS smp-vcpus-started              vCPU 1 checked in (smp.inc: INIT-SIPI-SIPI fallback)
;   PASS ipi-hlt-round-trips            N_HLT answers arrived, one per ping
;   PASS ipi-spin-round-trips           N_SPIN answers arrived
;   PASS ipi-pings-received             vCPU 1 took exactly N_HLT + N_SPIN pings
;   PASS ipi-no-stray-interrupts        no vector arrived on the wrong vCPU
; then DONE failures=<n> and stops with that code.

%include "lib.inc"
%include "pmode.inc"
%include "apic.inc"
%include "smp.inc"

PING_VECTOR equ 0x50
PONG_VECTOR equ 0x51
%ifndef N_HLT                  ; ipi-storm.asm includes this file with more round trips
%define N_HLT  100
%define N_SPIN 10
%endif
PHASE_HLT   equ 0
PHASE_SPIN  equ 1
PHASE_DONE  equ 2

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SMP_ENTER
    test esi, esi
    jnz second_vcpu

    call detect_vendor
    call load_idt
    mov eax, ping_handler
    mov ecx, PING_VECTOR
    call set_gate
    mov eax, pong_handler
    mov ecx, PONG_VECTOR
    call set_gate
    mov dword [APIC_SVR], 0x1FF ; software enable, spurious vector 0xFF
    PRINT "INFO ipi-pingpong starting: N_HLT="
    mov eax, N_HLT
    call put_dec
    PRINT " N_SPIN="
    mov eax, N_SPIN
    call put_dec
    PRINT 10
    mov edi, 2
    SMP_START_CHECKED
    ; vCPU 1 sets its own APIC up after "go": wait until it can take interrupts.
.wait_ready:
    pause
    cmp byte [vcpu1_ready], 0
    je .wait_ready
    mov dword [APIC_ICR_HIGH], 1 << 24  ; physical destination: APIC ID 1

    ; ---- HLT waits ------------------------------------------------------------------------
    call tsc_now
    mov [start_tsc], eax
    mov [start_tsc + 4], edx
    xor ebx, ebx                ; round trips done
.hlt_trip:
    cli
    mov dword [APIC_ICR_LOW], PING_VECTOR   ; fixed, physical, edge
.hlt_wait:
    cmp [pong_count], ebx
    jne .hlt_answered
    sti
    hlt                         ; STI's shadow: an IPI pending now still ends this HLT
    cli
    jmp .hlt_wait
.hlt_answered:
    inc ebx
    cmp ebx, N_HLT
    jb .hlt_trip
    sti
    call tsc_now
    sub eax, [start_tsc]
    sbb edx, [start_tsc + 4]
    mov ecx, N_HLT
    div ecx                     ; fits: a round trip < 2^32 cycles
    PRINT "BENCH ipi-roundtrip "
    call put_dec
    PRINT 10
    mov eax, [pong_count]
    cmp eax, N_HLT
    CHECK e, "ipi-hlt-round-trips", "answers=", eax

    ; ---- spinning waits -------------------------------------------------------------------
    mov byte [phase], PHASE_SPIN
    mov ecx, 100000             ; let vCPU 1 see the phase before the first ping
.settle:
    pause
    dec ecx
    jnz .settle
    call tsc_now
    mov [start_tsc], eax
    mov [start_tsc + 4], edx
    mov ebx, N_HLT
.spin_trip:
    mov dword [APIC_ICR_LOW], PING_VECTOR
.spin_wait:
    pause
    cmp [pong_count], ebx
    je .spin_wait
    inc ebx
    cmp ebx, N_HLT + N_SPIN
    jb .spin_trip
    call tsc_now
    sub eax, [start_tsc]
    sbb edx, [start_tsc + 4]
    mov ecx, N_SPIN
    cmp edx, ecx
    jb .fits
    mov eax, 0xFFFFFFFF         ; more than 2^32 cycles per trip: saturate
    xor edx, edx
    mov ecx, 1
.fits:
    div ecx
    PRINT "BENCH ipi-roundtrip-spin "
    call put_dec
    PRINT 10
    mov eax, [pong_count]
    cmp eax, N_HLT + N_SPIN
    CHECK e, "ipi-spin-round-trips", "answers=", eax

    mov byte [phase], PHASE_DONE
    cli
    mov eax, [ping_count]
    cmp eax, N_HLT + N_SPIN
    CHECK e, "ipi-pings-received", "pings=", eax
    mov eax, [stray]
    test eax, eax
    CHECK z, "ipi-no-stray-interrupts", "stray=", eax
    jmp finish

second_vcpu:
    mov edi, 2
    call smp_start
    lidt [idt_descriptor]
    mov dword [APIC_SVR], 0x1FF
    mov byte [vcpu1_ready], 1
.idle:
    cli
    cmp byte [phase], PHASE_DONE
    je .park
    cmp byte [phase], PHASE_SPIN
    je .spin
    sti
    hlt
    jmp .idle
.spin:
    sti
.spinning:
    pause
    cmp byte [phase], PHASE_SPIN
    je .spinning
    jmp .idle
.park:
    hlt
    jmp .park

; vCPU 1: a ping. Answer it from the handler, before the EOI.
ping_handler:
    push eax
    mov eax, [APIC_ID]
    shr eax, 24
    cmp eax, 1
    je .mine
    inc dword [stray]
    jmp .eoi
.mine:
    inc dword [ping_count]
    mov dword [APIC_ICR_HIGH], 0        ; vCPU 0
    mov dword [APIC_ICR_LOW], PONG_VECTOR
.eoi:
    mov dword [APIC_EOI], 0
    pop eax
    iretd

; vCPU 0: an answer.
pong_handler:
    push eax
    mov eax, [APIC_ID]
    shr eax, 24
    test eax, eax
    jz .mine
    inc dword [stray]
    jmp .eoi
.mine:
    inc dword [pong_count]
.eoi:
    mov dword [APIC_EOI], 0
    pop eax
    iretd

    EMIT_LIB
    EMIT_IDT_LIB
    EMIT_SMP_LIB

[section .data]
vcpu1_ready:    db 0
phase:          db PHASE_HLT
    align 4
start_tsc:      dd 0, 0
ping_count:     dd 0
pong_count:     dd 0
stray:          dd 0
