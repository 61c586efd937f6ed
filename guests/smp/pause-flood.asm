; pause-flood.asm -- a misbehaving 2-vCPU VM (profile "cpus=2 sched=shared", both vCPUs on one
; core: pin=0,0): every vCPU executes PAUSE in a tight loop, FLOOD_PAUSES times with
; RFLAGS.IF = 1, then as many with IF = 0. 32-bit protected mode, no IDT, no local APIC (no
; interrupt can arrive). Without the bound it would spin forever: a spin-wait whose lock
; never comes free.
;
; Where a vCPU shares its core with a runnable sibling, Peregrine intercepts PAUSE (AMD-V
; intercept bit, APM §15.14.4; VT-x "PAUSE exiting", SDM 3C §25.6.2): every PAUSE exits,
; and a spin of 200 µs gives the core away (PauseLoopDetector). The VMs beside this one on
; the same core must still get their turns and finish. At the end each vCPU reads its own
; exit counts (hypercall 2: total exits, and the pause kind, 20) and vCPU 0 prints:
;   MISBEHAVING pause-flood: <FLOOD_PAUSES> PAUSEs with IF=1 and as many with IF=0 per vCPU
;   PASS smp-vcpus-started
;   INFO pause-flood vcpu=<i> pauses=<n> pause-exits=<n> exits=<n>
;   PASS pause-flood-bounded       every vCPU executed its 2 * FLOOD_PAUSES PAUSEs
;   PASS pause-flood-exit-stats    the statistics hypercall answered on every vCPU
; then DONE failures=<n> and stops with that code (the end report says "pause: N exits").

%include "lib.inc"
%include "pmode.inc"
%include "smp.inc"

VCPUS        equ 2
%ifndef FLOOD_PAUSES
FLOOD_PAUSES equ 50000
%endif
EXIT_PAUSE   equ 20                     ; ExitKind.pause (docs/guest-abi.md)

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SMP_ENTER
    mov edi, VCPUS
    test esi, esi
    jnz .started
    call detect_vendor
    PRINT "MISBEHAVING pause-flood: "
    mov eax, FLOOD_PAUSES
    call put_dec
    PRINT " PAUSEs with IF=1 and as many with IF=0 per vCPU", 10
    SMP_START_CHECKED
    jmp .flood
.started:
    call smp_start
.flood:
    xor ebx, ebx                ; PAUSEs executed
    mov ecx, FLOOD_PAUSES
    sti                         ; nothing can interrupt: no APIC, no device programmed
.with_interrupts:
    pause
    inc ebx
    dec ecx
    jnz .with_interrupts
    cli
    mov ecx, FLOOD_PAUSES
.without_interrupts:
    pause
    inc ebx
    dec ecx
    jnz .without_interrupts
    mov [pauses + esi * 4], ebx

    call smp_own_exits
    jnc .stats
    lock inc dword [stats_errors]
.stats:
    mov [exits + esi * 4], eax
    mov edx, EXIT_PAUSE
    call smp_exit_count
    mov [pause_exits + esi * 4], eax
    lock inc dword [finished]
    test esi, esi
    jz report
.park:
    cli
    hlt
    jmp .park

report:
    cmp dword [finished], VCPUS
    je .all
    pause
    jmp report
.all:
    xor ebx, ebx                ; vCPU
    xor edi, edi                ; vCPUs that did not execute every PAUSE
.vcpu:
    PRINT "INFO pause-flood vcpu="
    mov eax, ebx
    call put_dec
    PRINT " pauses="
    mov eax, [pauses + ebx * 4]
    cmp eax, 2 * FLOOD_PAUSES
    je .counted
    inc edi
.counted:
    call put_dec
    PRINT " pause-exits="
    mov eax, [pause_exits + ebx * 4]
    call put_dec
    PRINT " exits="
    mov eax, [exits + ebx * 4]
    call put_dec
    PRINT 10
    inc ebx
    cmp ebx, VCPUS
    jb .vcpu
    test edi, edi
    CHECK z, "pause-flood-bounded", "short-vcpus=", edi
    mov eax, [stats_errors]
    test eax, eax
    CHECK z, "pause-flood-exit-stats", "errors=", eax
    jmp finish

    EMIT_LIB
    EMIT_SMP_LIB

[section .data]
    align 4
pauses:         times VCPUS dd 0
pause_exits:    times VCPUS dd 0
exits:          times VCPUS dd 0
finished:       dd 0
stats_errors:   dd 0
