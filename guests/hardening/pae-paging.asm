; pae-paging.asm -- 32-bit PAE paging turned on and off by a guest outside long mode.
;
; With EPT, VT-x loads the four PDPTEs from the VMCS guest PDPTE fields at VM entry
; (SDM 3C §27.3.2.4); a MOV CR0/CR4 the hypervisor emulates must fill them from the PDPT at
; CR3 (SDM 3A §4.4.1), or the guest's next instruction fetch walks garbage.
; Tables (identity map of the first GiB with 2 MiB pages, plus an alias):
;   PDPT at 0x30000: entry 0 -> PD0 (0x31000, linear 0-1 GiB = physical 0-1 GiB),
;   entry 1 -> PD1 (0x32000, its first entry maps linear 1 GiB -> physical 0), entries 2, 3
;   -> empty page directories (0x33000, 0x34000).
; Checks:
;   pae-invalid-pdpte-gp[-native]  (Intel) MOV CR0 with PG while PDPTE 3 has a reserved
;                               bit (bit 1): #GP(0) (SDM 3A §4.4.1, SDM 2B MOV CR), handled
;                               (NE flips too) and native (PG only)
;   pae-invalid-pdpte-unchanged[-native]  (Intel) CR0.PG still clear after it
;   pae-paging-on(-cr0)         handled MOV CR0 with PG|NE, CR4.PAE set: no fault, PG reads 1
;   pae-code-runs               a call and return under paging
;   pae-alias-read              linear 1 GiB + X reads what X holds (PDPTE 1 used)
;   pae-alias-write             a write through the alias shows at X
;   pae-paging-off(-cr0)        handled MOV CR0 without PG|NE: no fault, CR0.PG reads 0
;   pae-paging-on-native, pae-reloaded-pdpte-native, pae-paging-off-native
;                               PDPTE 1 moved to PD4 while paging is off; PG alone: the
;                               alias now reads physical 2 MiB
;   pae-paging-on-again, pae-reloaded-pdpte, pae-paging-off-again
;                               PDPTE 1 back to PD1; handled MOV: the alias reads X again
; Expected result under Peregrine (both vendors): every line PASS, "DONE failures=0", exit 0.

%include "lib.inc"
%include "pmode.inc"
%include "expect-fault.inc"

PDPT    equ 0x30000
PD0     equ 0x31000
PD1     equ 0x32000
PD2     equ 0x33000
PD3     equ 0x34000
PD4     equ 0x35000
ALIAS   equ 0x40000000
PAGE_2M equ 0x83                        ; present, writable, PS
PRESENT equ 0x1                         ; a PDPTE: P only (bits 2:1, 8:5 reserved)
; PG with NE: under VT-x the host owns CR0.NE (fixed to 1, SDM 3C Appendix A.7), so a MOV
; that changes NE from its read shadow exits and the hypervisor applies it; PG alone is the
; guest's under unrestricted guest and the processor applies it without an exit.
EMULATED_ON equ (1 << 31) | (1 << 5)

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    XF_SETUP_IDT32
    call detect_vendor
    PRINT "TEST pae-paging starting", 10

    ; Page directories: PD0 identity-maps 0-1 GiB; PD1 maps linear 1 GiB -> physical 0;
    ; PD4 maps linear 1 GiB -> physical 2 MiB; PD2, PD3 empty.
    mov edi, PD0
    mov ecx, 5 * 4096 / 4
    xor eax, eax
    rep stosd
    xor ecx, ecx
.identity:
    mov eax, ecx
    shl eax, 21
    or eax, PAGE_2M
    mov [PD0 + ecx * 8], eax
    mov dword [PD0 + ecx * 8 + 4], 0
    inc ecx
    cmp ecx, 512
    jb .identity
    mov dword [PD1], PAGE_2M
    mov dword [PD4], 0x200000 | PAGE_2M
    mov dword [PDPT], PD0 | PRESENT
    mov dword [PDPT + 4], 0
    mov dword [PDPT + 8], PD1 | PRESENT
    mov dword [PDPT + 12], 0
    mov dword [PDPT + 16], PD2 | PRESENT
    mov dword [PDPT + 20], 0
    mov dword [PDPT + 24], PD3 | PRESENT
    mov dword [PDPT + 28], 0
    mov eax, PDPT
    mov cr3, eax
    mov eax, cr4
    or eax, 1 << 5                      ; CR4.PAE
    mov cr4, eax

    ; ---- a PDPTE with a reserved bit: #GP(0), nothing changes (Intel only: AMD reads the
    ; PDPTEs at the walk with nested paging, APM Vol 2 §15.25, so the MOV does not fault)
    cmp byte [hv_is_intel], 0
    je .valid
    or dword [PDPT + 24], 1 << 1
    mov eax, cr0
    or eax, EMULATED_ON
    EXPECT_FAULT 13, "pae-invalid-pdpte-gp", mov cr0, eax
    mov eax, cr0
    test eax, 1 << 31
    CHECK z, "pae-invalid-pdpte-unchanged", "cr0=", eax
    mov eax, cr0
    or eax, 1 << 31
    EXPECT_FAULT 13, "pae-invalid-pdpte-gp-native", mov cr0, eax
    mov eax, cr0
    test eax, 1 << 31
    CHECK z, "pae-invalid-pdpte-unchanged-native", "cr0=", eax
    and dword [PDPT + 24], ~(1 << 1)

.valid:
    ; ---- paging on and off by MOVs the hypervisor handles (NE flips with PG) -------------
    mov dword [marker], 0x5A5A1234
    mov eax, cr0
    or eax, EMULATED_ON
    EXPECT_NO_FAULT "pae-paging-on", mov cr0, eax
    ; Reaching this line at all shows the fetch after the MOV went through the PDPTEs.
    mov eax, cr0
    test eax, 1 << 31
    CHECK nz, "pae-paging-on-cr0", "cr0=", eax
    call paged_function
    cmp eax, 0xC0DE
    CHECK e, "pae-code-runs", "eax=", eax
    mov eax, [ALIAS + marker]
    cmp eax, 0x5A5A1234
    CHECK e, "pae-alias-read", "value=", eax
    mov dword [ALIAS + marker], 0x600DF00D
    mov eax, [marker]
    cmp eax, 0x600DF00D
    CHECK e, "pae-alias-write", "value=", eax
    mov eax, cr0
    and eax, ~EMULATED_ON
    EXPECT_NO_FAULT "pae-paging-off", mov cr0, eax
    mov eax, cr0
    test eax, 1 << 31
    CHECK z, "pae-paging-off-cr0", "cr0=", eax

    ; ---- PDPTE 1 changed while paging is off, paging on by a MOV that may not exit ------
    mov dword [PDPT + 8], PD4 | PRESENT
    mov dword [0x200000], 0x7E57DA7A
    mov eax, cr0
    or eax, 1 << 31
    EXPECT_NO_FAULT "pae-paging-on-native", mov cr0, eax
    mov eax, [ALIAS]
    cmp eax, 0x7E57DA7A
    CHECK e, "pae-reloaded-pdpte-native", "value=", eax
    mov eax, cr0
    and eax, ~(1 << 31)
    EXPECT_NO_FAULT "pae-paging-off-native", mov cr0, eax

    ; ---- PDPTE 1 back to PD1, paging on by a handled MOV: the new PDPTE is used ----------
    mov dword [PDPT + 8], PD1 | PRESENT
    mov eax, cr0
    or eax, EMULATED_ON
    EXPECT_NO_FAULT "pae-paging-on-again", mov cr0, eax
    mov eax, [ALIAS + marker]
    cmp eax, 0x600DF00D
    CHECK e, "pae-reloaded-pdpte", "value=", eax
    mov eax, cr0
    and eax, ~EMULATED_ON
    EXPECT_NO_FAULT "pae-paging-off-again", mov cr0, eax

    jmp finish

paged_function:
    mov eax, 0xC0DE
    ret

    EMIT_LIB
    XF_EMIT32

[section .data]
    align 4
marker:         dd 0
