; barrier.asm -- a bulk-synchronous workload (profile "cpus=4"; assemble with -DVCPUS=n for
; another count, which must equal cpus=). No local APIC needed.
;
; Every vCPU runs ITERATIONS rounds of: a fixed compute chunk (CHUNK steps of xorshift32,
; about 10 instructions each, into its own checksum), then a sense-reversing barrier in
; shared memory (LOCK XADD on the arrival count; the last to arrive resets it and flips the
; shared sense; the others spin on the sense with PAUSE). The steady state makes no exit:
; no port I/O, MMIO, CPUID or HLT between the first and the last barrier. Each vCPU reads
; its own exit count (hypercall 2, RDX = the calling vCPU's exits so far) before and after,
; so the guest can report what the hypervisor cost it: host ticks, kicks, preemption.
; vCPU 0 times the rounds with RDTSC and prints, after the last barrier:
;   BENCH barrier iterations=<K> cycles=<TSC delta>     first to last barrier, vCPU 0's TSC
;   INFO barrier vcpu=<i> steady-exits=<n>              exits taken during the rounds
;   BENCH barrier steady-exits=<sum over the vCPUs>
;   PASS smp-vcpus-started       every vCPU checked in (smp.inc)
;   PASS barrier-order           after round k every vCPU had finished round k's chunk and
;                                none had started k+2's (checked by every vCPU every round)
;   PASS barrier-checksums       every vCPU computed the same checksum (same seed and work)
;   PASS barrier-exit-stats      the statistics hypercall answered on every vCPU
; then DONE failures=<n> and stops with that code. The other vCPUs end parked (CLI; HLT).

%include "lib.inc"
%include "pmode.inc"
%include "smp.inc"

%ifndef VCPUS
VCPUS       equ 4
%endif
%ifndef ITERATIONS
ITERATIONS  equ 30
%endif
%ifndef CHUNK
CHUNK       equ 20000
%endif
SEED        equ 0x2545F491

%if VCPUS > SMP_MAX_VCPUS
%error "VCPUS exceeds SMP_MAX_VCPUS"
%endif

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SMP_ENTER
    test esi, esi
    jnz .started
    call detect_vendor
    PRINT "INFO barrier starting: vcpus="
    mov eax, VCPUS
    call put_dec
    PRINT " iterations="
    mov eax, ITERATIONS
    call put_dec
    PRINT " chunk="
    mov eax, CHUNK
    call put_dec
    PRINT 10
.started:
    mov edi, VCPUS
    call smp_start
    jnc .go
    ; only vCPU 0 comes back with CF = 1
    PRINT "FAIL smp-vcpus-started some vCPU never checked in", 10
    inc dword [failures]
    jmp finish
.go:
    test esi, esi
    jnz .counted
    mov al, 1
    cmp al, 1
    CHECK e, "smp-vcpus-started"
.counted:
    ; Exits so far, twice: the difference is what one statistics call costs to count.
    call exits_so_far
    mov [exits_a + esi * 4], eax
    call exits_so_far
    mov [exits_b + esi * 4], eax
    xor ebp, ebp                ; local sense
    call barrier                ; everyone starts the rounds together
    test esi, esi
    jnz .round0
    call tsc_now
    mov [start_tsc], eax
    mov [start_tsc + 4], edx
.round0:
    mov edx, SEED
    xor ebx, ebx                ; round
.round:
    mov ecx, CHUNK
.step:
    XORSHIFT32 edx, eax
    dec ecx
    jnz .step
    lea eax, [ebx + 1]
    mov [progress + esi * 4], eax   ; chunk k done: progress = k + 1
    call barrier
    ; After barrier k: every vCPU's progress is k + 1, or k + 2 if it has already
    ; finished chunk k + 1 (it cannot pass barrier k + 1 without this vCPU).
    xor ecx, ecx
.check:
    mov eax, [progress + ecx * 4]
    sub eax, ebx
    cmp eax, 1
    je .ok
    cmp eax, 2
    je .ok
    lock inc dword [order_errors]
.ok:
    inc ecx
    cmp ecx, VCPUS
    jb .check
    inc ebx
    cmp ebx, ITERATIONS
    jb .round
    mov [checksum + esi * 4], edx
    test esi, esi
    jnz .after_rounds
    call tsc_now
    sub eax, [start_tsc]
    sbb edx, [start_tsc + 4]
    mov [elapsed], eax
    mov [elapsed + 4], edx
.after_rounds:
    call exits_so_far
    mov [exits_c + esi * 4], eax
    call barrier                ; every vCPU's numbers are in memory
    test esi, esi
    jz report
.park:
    cli
    hlt
    jmp .park

report:
    PRINT "BENCH barrier iterations="
    mov eax, ITERATIONS
    call put_dec
    PRINT " cycles="
    mov eax, [elapsed]
    mov edx, [elapsed + 4]
    call put_dec64
    PRINT 10
    ; steady exits of vCPU i: (c - b) - (b - a), at least 0
    xor ebx, ebx                ; vCPU
    xor edi, edi                ; sum
.vcpu:
    mov eax, [exits_c + ebx * 4]
    sub eax, [exits_b + ebx * 4]
    mov ecx, [exits_b + ebx * 4]
    sub ecx, [exits_a + ebx * 4]
    sub eax, ecx
    jae .nonnegative
    xor eax, eax
.nonnegative:
    add edi, eax
    PRINT "INFO barrier vcpu="
    push eax
    mov eax, ebx
    call put_dec
    pop eax
    PRINT " steady-exits="
    call put_dec
    PRINT 10
    inc ebx
    cmp ebx, VCPUS
    jb .vcpu
    PRINT "BENCH barrier steady-exits="
    mov eax, edi
    call put_dec
    PRINT 10
    mov eax, [order_errors]
    test eax, eax
    CHECK z, "barrier-order", "errors=", eax
    xor ecx, ecx
    mov edx, [checksum]
.sum:
    cmp [checksum + ecx * 4], edx
    jne .sum_done
    inc ecx
    cmp ecx, VCPUS
    jb .sum
.sum_done:
    cmp ecx, VCPUS
    CHECK e, "barrier-checksums", "first-differing-vcpu=", ecx
    mov eax, [stats_errors]
    test eax, eax
    CHECK z, "barrier-exit-stats", "errors=", eax
    jmp finish

; barrier: EBP = this vCPU's sense (flipped here). Keeps every register but EAX.
barrier:
    xor ebp, 1
    mov eax, 1
    lock xadd [bar_count], eax
    cmp eax, VCPUS - 1
    jne .wait
    mov dword [bar_count], 0    ; the last one: reset, then release (stores stay in order)
    mov [bar_sense], ebp
    ret
.wait:
    pause
    cmp [bar_sense], ebp
    jne .wait
    ret

; exits_so_far: EAX = the calling vCPU's exits so far (hypercall 2, RDX); ESI = vCPU index.
; Keeps EBX, ESI, EDI, EBP.
exits_so_far:
    push ebx
    push ecx
    call smp_own_exits
    jnc .ok
    lock inc dword [stats_errors]
.ok:
    pop ecx
    pop ebx
    ret

    EMIT_LIB
    EMIT_SMP_LIB

[section .data]
    align 64
bar_count:      dd 0
    align 64
bar_sense:      dd 0
    align 64
progress:       times VCPUS dd 0
checksum:       times VCPUS dd 0
exits_a:        times VCPUS dd 0
exits_b:        times VCPUS dd 0
exits_c:        times VCPUS dd 0
order_errors:   dd 0
stats_errors:   dd 0
start_tsc:      dd 0, 0
elapsed:        dd 0, 0
