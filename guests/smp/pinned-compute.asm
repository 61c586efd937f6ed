; pinned-compute.asm -- fixed compute work that should cost no exit at all (profile
; "sched=pinned": one vCPU that owns its core, so the scheduler arms no slice timer).
;
; Reads its exit count (hypercall 2, RDX = the calling vCPU's exits so far) twice back to
; back and once after ROUNDS x CHUNK xorshift32 steps (about 10 instructions each, no exits):
; steady exits = (c - b) - (b - a). Host interrupts, slice ends, kicks: anything the
; hypervisor does to this vCPU during the work shows up there. Prints
;   BENCH pinned-compute steady-exits=<n> cycles=<TSC cycles of the work>
;   PASS pinned-compute-exit-stats      the statistics hypercall answered
;   PASS pinned-compute-steady-exits    n <= MAX_STEADY_EXITS (0 is the goal; the margin
;                                       allows a stray host event, never a timer tick)
; then DONE failures=<n> and stops with that code.

%include "lib.inc"
%include "pmode.inc"
%include "smp.inc"

%ifndef ROUNDS
ROUNDS      equ 100
%endif
CHUNK       equ 50000
MAX_STEADY_EXITS equ 2

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    PRINT "INFO pinned-compute starting: rounds="
    mov eax, ROUNDS
    call put_dec
    PRINT " chunk="
    mov eax, CHUNK
    call put_dec
    PRINT 10
    call exits_so_far
    mov [exits_a], eax
    call exits_so_far
    mov [exits_b], eax
    call tsc_now
    mov [start_tsc], eax
    mov [start_tsc + 4], edx
    mov edx, 0x2545F491
    mov ebx, ROUNDS
.round:
    mov ecx, CHUNK
.step:
    XORSHIFT32 edx, eax
    dec ecx
    jnz .step
    dec ebx
    jnz .round
    mov [checksum], edx
    call tsc_now
    sub eax, [start_tsc]
    sbb edx, [start_tsc + 4]
    mov [elapsed], eax
    mov [elapsed + 4], edx
    call exits_so_far
    sub eax, [exits_b]
    mov ecx, [exits_b]
    sub ecx, [exits_a]
    sub eax, ecx
    jae .nonnegative
    xor eax, eax
.nonnegative:
    mov edi, eax
    PRINT "BENCH pinned-compute steady-exits="
    call put_dec
    PRINT " cycles="
    mov eax, [elapsed]
    mov edx, [elapsed + 4]
    call put_dec64
    PRINT " checksum=0x"
    mov eax, [checksum]
    call put_hex
    PRINT 10
    mov eax, [stats_errors]
    test eax, eax
    CHECK z, "pinned-compute-exit-stats", "errors=", eax
    cmp edi, MAX_STEADY_EXITS
    CHECK be, "pinned-compute-steady-exits", "exits=", edi
    jmp finish

; EAX = this vCPU's exits so far (hypercall 2, RDX). Keeps EBX, ESI, EDI, EBP.
exits_so_far:
    push ebx
    push ecx
    mov ebx, STATS_BUF
    mov ecx, STATS_BUF_SIZE
    call smp_exits_so_far
    jnc .ok
    inc dword [stats_errors]
.ok:
    pop ecx
    pop ebx
    ret

    EMIT_LIB
    EMIT_SMP_LIB

[section .data]
    align 4
exits_a:        dd 0
exits_b:        dd 0
stats_errors:   dd 0
checksum:       dd 0
start_tsc:      dd 0, 0
elapsed:        dd 0, 0
