; stop-while-running.asm -- a VM the hypervisor stops while its other vCPUs compute
; (profile "cpus=4", unmapped=stop, the default; assemble with -DVCPUS=n for another count).
;
; vCPUs 1..VCPUS-1 compute forever after "go" (xorshift32 steps, a counter in memory per
; vCPU, no exits). vCPU 0 waits until every one of them has counted at least MIN_STEPS
; steps, so all are running guest code, then prints
;   MISBEHAVING stop-while-running: vCPUs 1-3 computing, vCPU 0 writes to unmapped 0xC0000000
; and writes to guest-physical 0xC0000000, where nothing is mapped: under unmapped=stop the
; hypervisor must stop the whole VM, taking the computing vCPUs off their CPUs (on other
; cores: by a kick). If the write returns, it prints "FAIL still running ..." and stops
; itself with code 1 (and the computing vCPUs would never end the run).
; Also prints PASS smp-vcpus-started and PASS others-computing before the write.

%include "lib.inc"
%include "pmode.inc"
%include "smp.inc"

%ifndef VCPUS
VCPUS       equ 4
%endif
MIN_STEPS   equ 200000
WILD        equ 0xC0000000

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SMP_ENTER
    mov edi, VCPUS
    test esi, esi
    jnz compute
    call detect_vendor
    PRINT "INFO stop-while-running starting", 10
    SMP_START_CHECKED
    ; Wait until every other vCPU has made progress of its own.
    mov ecx, 1
.wait:
    pause
    cmp dword [steps + ecx * 4], MIN_STEPS
    jb .wait
    inc ecx
    cmp ecx, VCPUS
    jb .wait
    mov al, 1
    cmp al, 1
    CHECK e, "others-computing"
    PRINT "MISBEHAVING stop-while-running: vCPUs 1-"
    mov eax, VCPUS - 1
    call put_dec
    PRINT " computing, vCPU 0 writes to unmapped 0xC0000000", 10
    mov dword [WILD], 0x0BADC0DE
    PRINT "FAIL still running after the write to unmapped memory", 10
    mov ebx, 1
    jmp stop

compute:
    call smp_start
    mov edx, 0x2545F491
    xor ebx, ebx
.step:
    XORSHIFT32 edx, eax
    inc ebx
    test ebx, 0x3FF
    jnz .step
    mov [steps + esi * 4], ebx
    jmp .step

    EMIT_LIB
    EMIT_SMP_LIB

[section .data]
    align 4
steps:  times VCPUS dd 0
