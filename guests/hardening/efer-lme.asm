; efer-lme.asm -- EFER.LME set by WRMSR while paging is off, then legitimate use of it.
;
; The hardening reproducer for AMD-V under QEMU TCG: a guest that sets EFER.LME with
; CR0.PG = 0 and CR4.PAE = 0 and then exits (any exit: the first PRINT) used to corrupt the
; host's CR0 on the #VMEXIT, so the next VM's entry failed or the machine stopped
; (docs/hardening.md). Architecturally LME with paging off just waits for CR0.PG
; (AMD APM Vol 2 §14.6.1; Intel SDM 3A §10.8.5).
; First from real mode (LME set, two exits, two CALLs; reported later):
;   real-mode-efer-lme      RDMSR EFER in real mode: LME set, LMA clear
;   real-mode-call-after-lme  two CALLs returned
; then, in 32-bit protected mode with paging off:
;   efer-lme-set            RDMSR EFER after the WRMSR: LME (bit 8) set
;   efer-lma-clear          ... LMA (bit 10) clear: long mode is not active yet
;   call-after-lme          a CALL/RET and a stack round trip work (4 nested calls)
;   hypercall-after-lme     hypercall 0 still answers (an exit in this state)
; then CR4.PAE, CR3, CR0.PG: long mode, checked from 64-bit code and reported after
; leaving long mode again (CR0.PG cleared in compatibility mode):
;   long-mode-lma-set       RDMSR EFER in 64-bit code: LMA set
;   long-mode-call          a CALL in 64-bit code returned the expected value
;   left-long-mode-lme      after clearing CR0.PG: LME still set
;   left-long-mode-lma      ... LMA clear
;   pae-cleared-call        CR4.PAE cleared too (LME set, no paging, no PAE again): a CALL
;                           and more exits still work
; then the two #GP rules around LME (APM Vol 2 §14.6.1, SDM 3A §10.8.5, SDM 2B MOV CR):
;   pg-without-pae-gp       MOV CR0 setting PG with LME set and PAE clear: #GP(0) (on SVM
;                           the LME the VMCB does not hold yet counts)
;   pg-without-pae-unchanged  ... CR0.PG still clear, EFER.LMA clear
;   lme-cleared-paging-off  WRMSR clearing LME with paging off: no fault
;   lme-set-paging-on-gp    under 32-bit paging, WRMSR setting LME: #GP(0)
;   lme-set-paging-on-error ... error code 0
;   lme-unchanged-paging-on ... EFER.LME still clear
; Expected under Peregrine (both vendors): every line PASS, "DONE failures=0", exit code 0.

%include "lib.inc"
%include "pmode.inc"
%include "expect-fault.inc"

EFER_LME    equ 1 << 8
EFER_LMA    equ 1 << 10
LM_PML4     equ PT_BASE
LM_PDPT     equ PT_BASE + 0x1000
LM_PD       equ PT_BASE + 0x2000

    org 0x1000
    REAL_MODE_START
    ; ---- LME from real mode: exits (OUT to a port with no device), then a CALL ----------
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME
    wrmsr
    out 0x80, al
    out 0x80, al
    xor ax, ax
    call real_add_one
    call real_add_one
    mov [real_calls], ax
    mov ecx, MSR_EFER
    rdmsr
    mov [real_efer], eax
    ENTER_PROTECTED_MODE
main:
    XF_SETUP_IDT32
    call detect_vendor
    PRINT "TEST efer-lme starting", 10
    mov ebx, [real_efer]
    and ebx, EFER_LME | EFER_LMA
    cmp ebx, EFER_LME
    CHECK e, "real-mode-efer-lme", "efer=", ebx
    movzx ebx, word [real_calls]
    cmp ebx, 2
    CHECK e, "real-mode-call-after-lme", "ax=", ebx

    ; ---- LME with paging (and PAE) off ---------------------------------------------------
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME
    wrmsr
    mov ecx, MSR_EFER
    rdmsr
    mov ebx, eax
    PRINT "INFO efer after wrmsr: "            ; an exit while LME is set and PG, PAE are clear
    mov eax, ebx
    call put_hex
    PRINT 10
    test ebx, EFER_LME
    CHECK nz, "efer-lme-set", "efer=", ebx
    test ebx, EFER_LMA
    CHECK z, "efer-lma-clear", "efer=", ebx

    xor eax, eax
    call nested_call
    cmp eax, 4
    CHECK e, "call-after-lme", "eax=", eax

    mov eax, HC_IDENTIFY
    call hypercall
    cmp ebx, HC_IDENTIFY_RBX
    CHECK e, "hypercall-after-lme", "rbx=", ebx

    ; ---- long mode, entered the documented way (APM §14.6.1) ----------------------------
    mov edi, PT_BASE
    xor eax, eax
    mov ecx, 3 * 4096 / 4
    cld
    rep stosd
    mov dword [LM_PML4], LM_PDPT | 3
    mov dword [LM_PDPT], LM_PD | 3
    mov dword [LM_PD], 0x83                 ; 0-2 MiB, one large page
    mov eax, cr4
    or eax, 1 << 5                          ; CR4.PAE
    mov cr4, eax
    mov eax, LM_PML4
    mov cr3, eax
    mov eax, cr0
    or eax, 1 << 31                         ; CR0.PG: LME -> LMA
    mov cr0, eax
    jmp CODE64_SEL:long64
    bits 64
long64:
    mov ecx, MSR_EFER
    rdmsr
    mov [efer_long], eax
    xor eax, eax
    call add_one64
    call add_one64
    mov [call_long], eax
    ; back to compatibility mode, then paging off (SDM 3A §10.8.5.4, APM §14.7)
    push CODE32_SEL
    lea rax, [rel compat32]
    push rax
    retfq
    bits 32
compat32:
    mov eax, cr0
    and eax, ~(1 << 31)
    mov cr0, eax
    mov esp, STACK_TOP
    USE_BITS 32
    mov ebx, [efer_long]
    test ebx, EFER_LMA
    CHECK nz, "long-mode-lma-set", "efer=", ebx
    mov ebx, [call_long]
    cmp ebx, 2
    CHECK e, "long-mode-call", "eax=", ebx
    mov ecx, MSR_EFER
    rdmsr
    test eax, EFER_LME
    CHECK nz, "left-long-mode-lme", "efer=", eax
    test eax, EFER_LMA
    CHECK z, "left-long-mode-lma", "efer=", eax

    ; ---- PAE off again: LME set, PG and PAE clear, as at the start -----------------------
    mov eax, cr4
    and eax, ~(1 << 5)
    mov cr4, eax
    PRINT "INFO paging and PAE off again, LME still set", 10
    xor eax, eax
    call nested_call
    cmp eax, 4
    CHECK e, "pae-cleared-call", "eax=", eax

    ; ---- the #GP rules around LME ---------------------------------------------------------
    ; Paging on with LME but without PAE would be long mode without PAE: #GP(0).
    mov eax, cr0
    or eax, 1 << 31
    EXPECT_FAULT 13, "pg-without-pae-gp", mov cr0, eax
    mov ecx, MSR_EFER
    rdmsr
    mov ebx, cr0
    and ebx, 1 << 31
    and eax, EFER_LMA
    or ebx, eax
    CHECK z, "pg-without-pae-unchanged", "cr0.pg|efer.lma=", ebx
    ; LME changes freely with paging off, never with paging on.
    mov ecx, MSR_EFER
    rdmsr
    and eax, ~EFER_LME
    EXPECT_NO_FAULT "lme-cleared-paging-off", wrmsr
    mov edi, PT_BASE
    xor eax, eax
    mov ecx, 4096 / 4
    cld
    rep stosd
    mov dword [PT_BASE], 0x83               ; PDE 0: 0-4 MiB, PS | RW | P
    mov eax, cr4
    or eax, 1 << 4                          ; CR4.PSE: 4 MiB pages in 32-bit paging
    mov cr4, eax
    mov eax, PT_BASE
    mov cr3, eax
    mov eax, cr0
    or eax, 1 << 31                         ; 32-bit paging, LME clear
    mov cr0, eax
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME
    EXPECT_FAULT 13, "lme-set-paging-on-gp", wrmsr
    EXPECT_ERROR_CODE 0, "lme-set-paging-on-error"
    mov ecx, MSR_EFER
    rdmsr
    test eax, EFER_LME
    CHECK z, "lme-unchanged-paging-on", "efer=", eax
    mov eax, cr0
    and eax, ~(1 << 31)
    mov cr0, eax
    jmp finish

    bits 16
real_add_one:
    inc ax
    ret
    USE_BITS 32

nested_call:                                ; EAX = 4 through four nested calls
    call .one
    ret
.one:
    inc eax
    cmp eax, 4
    jae .done
    call .one
.done:
    ret

    bits 64
add_one64:
    inc eax
    ret
    USE_BITS 32

    EMIT_LIB
    XF_EMIT32

[section .data]
real_efer:  dd 0
real_calls: dw 0
efer_long:  dd 0
call_long:  dd 0
__?SECT?__
