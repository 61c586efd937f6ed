; startup.asm -- INIT and start-up IPIs (SDM 3A §8.4, §9.4.3, §11.6.1), profile
; "cpus=3 apic=on start=bsp": only vCPU 0 starts at the entry; vCPUs 1 and 2 wait for
; INIT/SIPI as application processors do. vCPU 0 enters protected mode, enables its xAPIC
; and checks:
;   - the application processors do not run before a start-up IPI (aps-wait-for-sipi);
;   - INIT (level assert), INIT level de-assert, then two start-up IPIs with vector 0x08 to
;     all excluding self start both at 0800:0000 in real mode (the trampoline below, at
;     0x8000): each counts itself, records its APIC ID (CPUID 1 EBX[31:24]) and CS, then
;     spins; the second SIPI is ignored (each AP ran the trampoline once);
;   - INIT then a SIPI by physical destination restart vCPU 2 alone, whatever it was doing.
; Prints PASS/FAIL lines, then DONE and stops with the number of failures.

%include "lib.inc"
%include "pmode.inc"
%include "apic.inc"

AP_VECTOR   equ 0x08                ; the trampoline at 0x8000
WAIT_LOOPS  equ 50000000
ICR_LEVEL_ASSERT  equ 1 << 14
ICR_TRIGGER_LEVEL equ 1 << 15

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call load_idt
    mov dword [APIC_SVR], 0x1FF     ; software enable, spurious vector 0xFF
    call detect_vendor
    PRINT "INFO startup starting", 10

    mov ecx, 100000             ; PAUSE exits on a shared core: enough time for a second SIPI
.quiet:
    pause
    dec ecx
    jnz .quiet
    mov eax, [ap_started]
    cmp eax, 0
    CHECK e, "aps-wait-for-sipi", "started=", eax

    ; INIT-SIPI-SIPI to all excluding self, as an operating system starts its APs.
    mov dword [APIC_ICR_HIGH], 0
    mov dword [APIC_ICR_LOW], ICR_ALL_EXCL | ICR_INIT | ICR_LEVEL_ASSERT | ICR_TRIGGER_LEVEL
    mov dword [APIC_ICR_LOW], ICR_ALL_EXCL | ICR_INIT | ICR_TRIGGER_LEVEL   ; de-assert
    mov dword [APIC_ICR_LOW], ICR_ALL_EXCL | ICR_STARTUP | AP_VECTOR
    mov ebx, 2
    call wait_started
    mov dword [APIC_ICR_LOW], ICR_ALL_EXCL | ICR_STARTUP | AP_VECTOR
    cmp eax, 2
    CHECK e, "sipi-starts-both-aps", "started=", eax
    movzx eax, byte [ap_seen + 1]
    cmp eax, 1
    CHECK e, "ap-1-ran-once", "runs=", eax
    movzx eax, byte [ap_seen + 2]
    cmp eax, 1
    CHECK e, "ap-2-ran-once", "runs=", eax
    movzx eax, word [ap_cs]
    cmp eax, AP_VECTOR << 8
    CHECK e, "sipi-vector-is-cs", "cs=", eax

    mov ecx, 100000             ; PAUSE exits on a shared core: enough time for a second SIPI
.settle:
    pause
    dec ecx
    jnz .settle
    mov eax, [ap_started]
    cmp eax, 2
    CHECK e, "second-sipi-ignored", "started=", eax

    ; INIT and SIPI to vCPU 2 only: it leaves its spin loop and runs the trampoline again.
    mov dword [APIC_ICR_HIGH], 2 << 24
    mov dword [APIC_ICR_LOW], ICR_INIT | ICR_LEVEL_ASSERT | ICR_TRIGGER_LEVEL
    mov dword [APIC_ICR_LOW], ICR_STARTUP | AP_VECTOR
    mov ebx, 3
    call wait_started
    cmp eax, 3
    CHECK e, "init-sipi-restarts-one-ap", "started=", eax
    movzx eax, byte [ap_seen + 2]
    cmp eax, 2
    CHECK e, "restarted-ap-is-vcpu-2", "runs=", eax
    movzx eax, byte [ap_seen + 1]
    cmp eax, 1
    CHECK e, "ap-1-untouched", "runs=", eax
    jmp finish

; EBX = the count to wait for; returns the number of AP starts in EAX.
wait_started:
    mov ecx, WAIT_LOOPS
.wait:
    cmp [ap_started], ebx
    jae .done
    pause
    dec ecx
    jnz .wait
.done:
    mov eax, [ap_started]
    ret

    EMIT_LIB
    EMIT_IDT_LIB

; ---- the AP trampoline: real mode at 0800:0000 -------------------------------------------
    times (AP_VECTOR << 12) - 0x1000 - ($ - $$) db 0
[bits 16]
ap_entry:
    cli
    xor ax, ax
    mov ds, ax
    mov ax, cs
    mov [ap_cs], ax
    mov eax, 1
    cpuid
    shr ebx, 24
    lock inc byte [ebx + ap_seen]
    lock inc dword [ap_started]
.spin:
    pause
    jmp .spin

[section .data]
    align 4
ap_started:     dd 0
ap_cs:          dw 0
ap_seen:        db 0, 0, 0, 0
