; init-sipi-storm.asm -- a misbehaving 2-vCPU VM (profile "cpus=2 apic=on"): vCPU 0 resets
; vCPU 1 with INIT and start-up IPIs in a tight loop while vCPU 1 tries to compute.
; 32-bit protected mode, no IDT (no interrupts are taken).
;
; After both vCPUs checked in (smp.inc), vCPU 0 runs STORM_ROUNDS rounds of:
;   INIT (assert), then a start-up IPI with vector 0x01 (the entry point, 0x1000), to APIC
;   ID 1 (SDM 3A §11.6.1 delivery modes 101b and 110b; §9.4.3 each INIT puts vCPU 1 back in
;   wait-for-SIPI, the SIPI restarts it in real mode at the entry point);
; and every 8th round also:
;   INIT and a start-up IPI to APIC ID 7, which no vCPU has (no target: ignored, counted);
;   INIT and a start-up IPI with the all-excluding-self shorthand (ICR[19:18] = 11b);
;   an INIT level de-assert (level 0, trigger level: ICR[14] = 0, ICR[15] = 1), which
;   Peregrine ignores and counts.
; Every ICR write is an MMIO exit of vCPU 0. vCPU 1 counts each (re)start ("boots") and then
; computes xorshift32 chunks, counting them, until it is reset again. After the storm vCPU 0
; says the storm is over, resets it one last time, and waits for it to finish WORK_AFTER
; chunks in one boot: vCPU 1 must still run after thousands of resets.
; Prints (vCPU 0):
;   MISBEHAVING init-sipi-storm: <STORM_ROUNDS> rounds of INIT+SIPI to vCPU 1
;   PASS smp-vcpus-started
;   INFO init-sipi-storm progress rounds=<n>     every 256 rounds
;   INFO init-sipi-storm rounds=<n> icr-writes=<n> vcpu1-boots=<n> chunks=<n>
;   PASS init-sipi-storm-rounds          vCPU 0 completed every round
;   PASS init-sipi-storm-resets          vCPU 1 booted at least twice (INIT reset it)
;   PASS init-sipi-storm-work-after      vCPU 1 computed WORK_AFTER chunks after the storm
; then DONE failures=<n> and stops with that code. The hypervisor, and the VMs beside this
; one, must not notice more than the exits.

%include "lib.inc"
%include "pmode.inc"
%include "apic.inc"
%include "smp.inc"

%ifndef STORM_ROUNDS
STORM_ROUNDS equ 2000
%endif
WORK_AFTER   equ 20
CHUNK        equ 2000                   ; xorshift steps per chunk
WORK_WAIT    equ 1000000000             ; TSC cycles vCPU 0 waits for the work after the storm
ICR_ASSERT   equ 1 << 14
ICR_LEVEL    equ 1 << 15
ABSENT_ID    equ 7

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SMP_ENTER
    mov edi, 2
    test esi, esi
    jnz second_vcpu

    call detect_vendor
    mov dword [APIC_SVR], 0x1FF ; software enable, spurious vector 0xFF
    PRINT "MISBEHAVING init-sipi-storm: "
    mov eax, STORM_ROUNDS
    call put_dec
    PRINT " rounds of INIT+SIPI to vCPU 1", 10
    SMP_START_CHECKED

    xor ebx, ebx                ; rounds done
.round:
    call reset_vcpu1
    test ebx, 7
    jnz .next
    mov dword [APIC_ICR_HIGH], ABSENT_ID << 24
    mov dword [APIC_ICR_LOW], ICR_INIT | ICR_ASSERT
    mov dword [APIC_ICR_LOW], ICR_STARTUP | SMP_SIPI_VECTOR
    mov dword [APIC_ICR_LOW], ICR_ALL_EXCL | ICR_INIT | ICR_ASSERT
    mov dword [APIC_ICR_LOW], ICR_ALL_EXCL | ICR_STARTUP | SMP_SIPI_VECTOR
    mov dword [APIC_ICR_LOW], ICR_INIT | ICR_LEVEL  ; de-assert
    add dword [icr_writes], 6
.next:
    inc ebx
    test ebx, 0xFF
    jnz .more
    PRINT "INFO init-sipi-storm progress rounds="
    mov eax, ebx
    call put_dec
    PRINT 10
.more:
    cmp ebx, STORM_ROUNDS
    jb .round
    mov [rounds], ebx

    ; The storm is over, then the last reset: the boot it starts (or a later one) sees the
    ; flag and must get its work done. (The other order could let vCPU 1 take the reset,
    ; start, and read the flag before it is set: then no reset would ever come again.)
    mov byte [storm_over], 1
    call reset_vcpu1
    call tsc_now
    mov ebp, eax
    mov edi, edx
.wait_work:
    pause
    cmp byte [work_done], 0
    jne .reported
    call tsc_now
    sub eax, ebp
    sbb edx, edi
    jnz .reported               ; more than 2^32 cycles: give up
    cmp eax, WORK_WAIT
    jb .wait_work
.reported:
    PRINT "INFO init-sipi-storm rounds="
    mov eax, [rounds]
    call put_dec
    PRINT " icr-writes="
    mov eax, [icr_writes]
    call put_dec
    PRINT " vcpu1-boots="
    mov eax, [boots]
    call put_dec
    PRINT " chunks="
    mov eax, [chunks]
    call put_dec
    PRINT 10
    mov eax, [rounds]
    cmp eax, STORM_ROUNDS
    CHECK e, "init-sipi-storm-rounds", "rounds=", eax
    mov eax, [boots]
    cmp eax, 2
    CHECK ae, "init-sipi-storm-resets", "boots=", eax
    movzx eax, byte [work_done]
    cmp eax, 1
    CHECK e, "init-sipi-storm-work-after", "done=", eax
    jmp finish

; INIT, then a start-up IPI, to APIC ID 1. Keeps every register.
reset_vcpu1:
    mov dword [APIC_ICR_HIGH], 1 << 24  ; physical destination: APIC ID 1
    mov dword [APIC_ICR_LOW], ICR_INIT | ICR_ASSERT
    mov dword [APIC_ICR_LOW], ICR_STARTUP | SMP_SIPI_VECTOR
    add dword [icr_writes], 3
    ret

; vCPU 1, after each (re)start: count the boot, then compute until reset. A boot that began
; with the storm over finishes WORK_AFTER chunks and parks for good (HLT with IF = 0); a
; reset still pending then only starts another such boot.
second_vcpu:
    lock inc dword [boots]
    call smp_start              ; at once after the first boot: "go" is already set
    movzx ebp, byte [storm_over]
    mov edx, 0x2545F491
    xor ebx, ebx                ; chunks in this boot
.chunk:
    mov ecx, CHUNK
.step:
    XORSHIFT32 edx, eax
    dec ecx
    jnz .step
    lock inc dword [chunks]
    inc ebx
    test ebp, ebp
    jz .chunk
    cmp ebx, WORK_AFTER
    jb .chunk
    mov byte [work_done], 1
.park:
    cli
    hlt
    jmp .park

    EMIT_LIB
    EMIT_SMP_LIB

[section .data]
storm_over:     db 0
work_done:      db 0
    align 4
rounds:         dd 0
icr_writes:     dd 0
boots:          dd 0
chunks:         dd 0
