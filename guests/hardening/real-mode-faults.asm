; real-mode-faults.asm -- exceptions the hypervisor injects into a real-mode guest.
;
; In real mode an exception pushes FLAGS, CS and IP and nothing else: no error code
; (SDM 3A §21.1.4; APM Vol 2 §8.7). The hypervisor injects #GP(0) for a refused RDMSR/WRMSR
; and for MOV CR0 with NW set and CD clear; under VT-x with unrestricted guest an injected
; event with "deliver error code" while CR0.PE = 0 fails the VM entry (SDM 3C §27.2.1.3).
; Each probe runs with a real-mode IVT handler for vector 13 that records the stack frame
; and SP, then resumes after the probe without trusting the frame (no IRET).
;   rdmsr-gp-called      RDMSR ECX=0xDEAD reaches the #GP handler once
;   rdmsr-gp-frame-ip    [SP] is the RDMSR's IP (no error code on top)
;   rdmsr-gp-frame-cs    [SP+2] is CS (0)
;   rdmsr-gp-frame-flags [SP+4] is FLAGS as before the RDMSR
;   rdmsr-gp-frame-size  the frame is 6 bytes (SP in the handler = SP before - 6)
;   wrmsr-gp-*           the same for WRMSR ECX=0xDEAD
;   cr0-nw-gp-*          the same for MOV CR0 with NW and not CD
;   cr0-nw-unchanged     CR0 reads as before it
;   gp-iret-resumes      a #GP handler that skips the RDMSR and IRETs returns to the next
;                        instruction
; Expected result under Peregrine (both vendors): every line PASS, "DONE failures=0", exit 0.

%include "lib.inc"
%include "pmode.inc"
%include "exceptions.inc"

    org 0x1000
    REAL_MODE_START
    INSTALL_REAL_MODE_UD
    call detect_vendor
    PRINT "TEST real-mode-faults starting", 10
    mov word [13 * 4], record_gp
    mov word [13 * 4 + 2], 0

; FRAME_CHECKS "name", insn: the frame the #GP handler recorded for the instruction at insn.
%macro FRAME_CHECKS 2
    %strcat %%called %1, "-gp-called"
    %strcat %%ip %1, "-gp-frame-ip"
    %strcat %%cs %1, "-gp-frame-cs"
    %strcat %%flags %1, "-gp-frame-flags"
    %strcat %%size %1, "-gp-frame-size"
    mov eax, [gp_count]
    cmp eax, 1
    CHECK e, %%called, "count=", eax
    movzx eax, word [gp_frame]
    cmp ax, %2
    CHECK e, %%ip, "ip=", eax
    movzx eax, word [gp_frame + 2]
    cmp ax, 0
    CHECK e, %%cs, "cs=", eax
    movzx eax, word [gp_frame + 4]
    cmp ax, [flags_before]
    CHECK e, %%flags, "flags=", eax
    movzx eax, word [sp_before]
    sub ax, [gp_sp]
    cmp ax, 6
    CHECK e, %%size, "bytes=", eax
%endmacro

    ; ---- RDMSR of an MSR the policy refuses ---------------------------------------------
    mov dword [gp_count], 0
    mov word [gp_resume], .after_rdmsr
    mov ecx, 0xDEAD
    pushf
    pop word [flags_before]
    mov [sp_before], sp
.insn_rdmsr:
    rdmsr
.after_rdmsr:
    FRAME_CHECKS "rdmsr", .insn_rdmsr

    ; ---- WRMSR of an MSR the policy refuses ---------------------------------------------
    mov dword [gp_count], 0
    mov word [gp_resume], .after_wrmsr
    mov ecx, 0xDEAD
    xor eax, eax
    xor edx, edx
    pushf
    pop word [flags_before]
    mov [sp_before], sp
.insn_wrmsr:
    wrmsr
.after_wrmsr:
    FRAME_CHECKS "wrmsr", .insn_wrmsr

    ; ---- MOV CR0 with NW set and CD clear: #GP(0) (SDM 2B MOV CR) -----------------------
    mov dword [gp_count], 0
    mov word [gp_resume], .after_cr0
    mov eax, cr0
    mov [cr0_before], eax
    and eax, ~(1 << 30)
    or eax, 1 << 29
    pushf
    pop word [flags_before]
    mov [sp_before], sp
.insn_cr0:
    mov cr0, eax
.after_cr0:
    FRAME_CHECKS "cr0-nw", .insn_cr0
    mov eax, cr0
    cmp eax, [cr0_before]
    CHECK e, "cr0-nw-unchanged", "cr0=", eax

    ; ---- A handler that returns with IRET ---------------------------------------------
    mov word [13 * 4], skip_rdmsr
    mov dword [gp_count], 0
    mov ecx, 0xDEAD
    rdmsr
    mov eax, [gp_count]
    cmp eax, 1
    CHECK e, "gp-iret-resumes", "count=", eax

    jmp finish

; #GP recorder: the frame's three words and SP, then back to [gp_resume] on the stack as it
; was before the fault.
record_gp:
    mov [gp_sp], sp
    push bp
    mov bp, sp
    push ax
    mov ax, [bp + 2]
    mov [gp_frame], ax
    mov ax, [bp + 4]
    mov [gp_frame + 2], ax
    mov ax, [bp + 6]
    mov [gp_frame + 4], ax
    inc dword [gp_count]
    pop ax
    pop bp
    mov sp, [sp_before]
    jmp word [gp_resume]

; #GP handler that steps over the 2-byte RDMSR (0F 32) and returns.
skip_rdmsr:
    push bp
    mov bp, sp
    add word [bp + 2], 2
    inc dword [gp_count]
    pop bp
    iret

    EMIT_LIB
    EMIT_REAL_MODE_UD

[section .data]
    align 4
gp_count:       dd 0
gp_frame:       dw 0, 0, 0
gp_sp:          dw 0
gp_resume:      dw 0
sp_before:      dw 0
flags_before:   dw 0
    align 4
cr0_before:     dd 0
