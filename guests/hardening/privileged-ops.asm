; privileged-ops.asm -- hidden and privileged instructions from 64-bit code (CPL 0) get the
; architectural answer, on both vendors, and the VM goes on.
;
; Long mode (lmode.inc), an IDT that records expected faults (expect-fault.inc), then:
;   VMX instructions, #UD (CPUID hides VMX, CR4.VMXE reads 0):
;     vmxon-ud vmclear-ud vmptrld-ud vmptrst-ud vmread-ud vmwrite-ud vmlaunch-ud
;     vmresume-ud vmxoff-ud invept-ud invvpid-ud vmfunc-ud
;   SVM instructions, #UD (CPUID hides SVM): vmrun-ud vmload-ud vmsave-ud stgi-ud clgi-ud
;     skinit-ud invlpga-ud
;   getsec-ud (SMX), monitor-ud, mwait-ud (MONITOR hidden), rdtscp-matches-cpuid (#UD
;   unless CPUID.8000_0001:EDX[27], then runs), rdpid (#UD unless CPUID.(7,0):ECX[22]), xsaves-ud, xsetbv-ud (XSAVE hidden),
;   invpcid (#UD unless CPUID.(7,0):EBX[10], then runs), rdpmc-gp / rdpmc-gp-error
;   (#GP(0): no counters offered)
;   other-vendor-hypercall-ud  VMCALL on AMD, VMMCALL on Intel: #UD
;   hypercall-unknown-number   a hypercall number the ABI does not define: RAX = -1, no stop
;   CR4 (MOV to CR4 #GP(0), and CR4 reads back unchanged after each refusal):
;     cr4-vmxe-gp cr4-smxe-gp cr4-bit31-gp cr4-bit63-gp cr4-osxsave-gp cr4-la57-gp-lm
;     (each with a -unchanged check), cr4-pce-accepted, cr4-pce-from-r9 (REX.B source),
;     cr4-clear-pae-gp-lm, and for each feature bit, accepted when CPUID offers it, #GP
;     when not: cr4-fsgsbase cr4-pcide cr4-smep cr4-smap cr4-umip cr4-pke
;   CR0: cr0-bit32-gp cr0-nw-without-cd-gp cr0-clear-pg-gp-lm (each with -unchanged)
; Expected result under Peregrine (both vendors): every line PASS, "DONE failures=0", the VM
; stops itself through hypercall 3 with exit code 0.

%include "lib.inc"
%include "pmode.inc"
%include "lmode.inc"
%include "expect-fault.inc"

REGION     equ 0x30000                  ; a zeroed page for the memory operands
XSAVE_AREA equ 0x31000

; CR4_REFUSED bit, "name", "name-unchanged": setting CR4 bit `bit` raises #GP and CR4 keeps
; its value.
%macro CR4_REFUSED 3
    mov rax, cr4
    mov r12, rax
    bts rax, %1
    EXPECT_FAULT 13, %2, mov cr4, rax
    mov rax, cr4
    cmp rax, r12
    CHECK e, %3, "cr4=", rax
%endmacro

; CR4_FEATURE bit, leaf, register, flag, "name": setting CR4 bit `bit` is accepted (and reads
; back set) when CPUID.(leaf,0):register[flag] is set, refused with #GP otherwise.
%macro CR4_FEATURE 5
    mov eax, %2
    xor ecx, ecx
    cpuid
    xor r13d, r13d
    bt %3, %4
    setc r13b
    mov rax, cr4
    mov r12, rax
    bts rax, %1
    XF_PROBE mov cr4, rax
    mov rax, cr4
    mov ecx, [xf_vector]
    test r13d, r13d
    jz %%hidden
    cmp ecx, XF_NONE
    jne %%checked
    bt rax, %1
    jnc %%checked
    mov cr4, r12                            ; back to what it was
    mov rax, cr4
    cmp rax, r12
    jmp %%checked
%%hidden:
    cmp ecx, 13
    jne %%checked
    cmp rax, r12
%%checked:
    CHECK e, %5, "cr4/vector=", rcx
%endmacro

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
    ENTER_LONG_MODE
main:
    XF_SETUP_IDT64
    call detect_vendor
    PRINT "TEST privileged-ops starting", 10

    ; ---- VMX instructions ------------------------------------------------------------
    EXPECT_FAULT 6, "vmxon-ud", vmxon [REGION]
    EXPECT_FAULT 6, "vmclear-ud", vmclear [REGION]
    EXPECT_FAULT 6, "vmptrld-ud", vmptrld [REGION]
    EXPECT_FAULT 6, "vmptrst-ud", vmptrst [REGION]
    xor ebx, ebx
    EXPECT_FAULT 6, "vmread-ud", vmread rax, rbx
    EXPECT_FAULT 6, "vmwrite-ud", vmwrite rbx, rax
    EXPECT_FAULT 6, "vmlaunch-ud", vmlaunch
    EXPECT_FAULT 6, "vmresume-ud", vmresume
    EXPECT_FAULT 6, "vmxoff-ud", vmxoff
    mov eax, 2
    EXPECT_FAULT 6, "invept-ud", invept rax, [descriptor]
    mov eax, 2
    EXPECT_FAULT 6, "invvpid-ud", invvpid rax, [descriptor]
    xor eax, eax
    EXPECT_FAULT 6, "vmfunc-ud", vmfunc

    ; ---- SVM instructions ------------------------------------------------------------
    mov eax, REGION
    EXPECT_FAULT 6, "vmrun-ud", vmrun
    mov eax, REGION
    EXPECT_FAULT 6, "vmload-ud", vmload
    mov eax, REGION
    EXPECT_FAULT 6, "vmsave-ud", vmsave
    EXPECT_FAULT 6, "stgi-ud", stgi
    EXPECT_FAULT 6, "clgi-ud", clgi
    mov eax, REGION
    EXPECT_FAULT 6, "skinit-ud", skinit
    xor eax, eax
    xor ecx, ecx
    EXPECT_FAULT 6, "invlpga-ud", invlpga

    ; ---- other hidden instructions ---------------------------------------------------
    xor eax, eax
    EXPECT_FAULT 6, "getsec-ud", getsec
    mov eax, REGION
    xor ecx, ecx
    xor edx, edx
    EXPECT_FAULT 6, "monitor-ud", monitor
    xor eax, eax
    xor ecx, ecx
    EXPECT_FAULT 6, "mwait-ud", mwait
    ; RDTSCP runs where CPUID offers it (reading the vCPU's TSC_AUX), #UD where not.
    mov eax, 0x80000001
    xor ecx, ecx
    cpuid
    mov [rdtscp_flags], edx
    XF_PROBE rdtscp
    mov eax, [xf_vector]
    bt dword [rdtscp_flags], 27
    jc .rdtscp_offered
    cmp eax, 6
    jmp .rdtscp_checked
.rdtscp_offered:
    cmp eax, XF_NONE
.rdtscp_checked:
    CHECK e, "rdtscp-matches-cpuid", "vector=", rax
    EXPECT_FAULT 6, "xsaves-ud", xsaves [XSAVE_AREA]
    xor ecx, ecx
    xor eax, eax
    xor edx, edx
    EXPECT_FAULT 6, "xsetbv-ud", xsetbv
    xor ecx, ecx
    EXPECT_FAULT 13, "rdpmc-gp", rdpmc
    EXPECT_ERROR_CODE 0, "rdpmc-gp-error"
    mov ecx, 0x40000000                     ; a fixed-function counter index: none either
    EXPECT_FAULT 13, "rdpmc-fixed-gp", rdpmc

    ; RDPID: CPUID.(7,0):ECX[22]; INVPCID: CPUID.(7,0):EBX[10].
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov r14d, ecx
    mov r15d, ebx
    XF_PROBE rdpid rax
    mov eax, [xf_vector]
    bt r14d, 22
    jc .rdpid_offered
    cmp eax, 6
    jmp .rdpid_checked
.rdpid_offered:
    cmp eax, XF_NONE
.rdpid_checked:
    CHECK e, "rdpid-matches-cpuid", "vector=", rax
    mov eax, 2                              ; all contexts, including globals
    XF_PROBE invpcid rax, [descriptor]
    mov eax, [xf_vector]
    bt r15d, 10
    jc .invpcid_offered
    cmp eax, 6
    jmp .invpcid_checked
.invpcid_offered:
    cmp eax, XF_NONE
.invpcid_checked:
    CHECK e, "invpcid-matches-cpuid", "vector=", rax

    ; ---- the other vendor's hypercall instruction: undefined here --------------------------
    cmp byte [hv_is_intel], 0
    jne .intel_other
    EXPECT_FAULT 6, "other-vendor-hypercall-ud", db 0x0F, 0x01, 0xC1    ; VMCALL on AMD
    jmp .other_done
.intel_other:
    EXPECT_FAULT 6, "other-vendor-hypercall-ud", db 0x0F, 0x01, 0xD9    ; VMMCALL on Intel
.other_done:

    ; ---- a hypercall number the ABI does not define -------------------------------------
    mov rax, 0x123456789A
    call hypercall
    cmp rax, -1
    CHECK e, "hypercall-unknown-number", "rax=", rax

    ; ---- CR4 -------------------------------------------------------------------------
    CR4_REFUSED 13, "cr4-vmxe-gp", "cr4-vmxe-gp-unchanged"
    CR4_REFUSED 14, "cr4-smxe-gp", "cr4-smxe-gp-unchanged"
    CR4_REFUSED 31, "cr4-bit31-gp", "cr4-bit31-gp-unchanged"
    CR4_REFUSED 63, "cr4-bit63-gp", "cr4-bit63-gp-unchanged"
    CR4_REFUSED 18, "cr4-osxsave-gp", "cr4-osxsave-gp-unchanged"
    CR4_REFUSED 12, "cr4-la57-gp-lm", "cr4-la57-gp-lm-unchanged"
    mov rax, cr4
    mov r12, rax
    btr rax, 5
    EXPECT_FAULT 13, "cr4-clear-pae-gp-lm", mov cr4, rax
    mov rax, cr4
    cmp rax, r12
    CHECK e, "cr4-clear-pae-gp-lm-unchanged", "cr4=", rax

    mov rax, cr4
    mov r12, rax
    bts rax, 8                              ; PCE: no CPUID flag, always allowed
    EXPECT_NO_FAULT "cr4-pce-accepted", mov cr4, rax
    mov rax, cr4
    bt rax, 8
    CHECK c, "cr4-pce-reads-back", "cr4=", rax
    mov r9, r12
    EXPECT_NO_FAULT "cr4-pce-from-r9", mov cr4, r9
    mov rax, cr4
    cmp rax, r12
    CHECK e, "cr4-pce-cleared-from-r9", "cr4=", rax

    CR4_FEATURE 16, 7, ebx, 0, "cr4-fsgsbase"
    CR4_FEATURE 17, 1, ecx, 17, "cr4-pcide"
    CR4_FEATURE 20, 7, ebx, 7, "cr4-smep"
    CR4_FEATURE 21, 7, ebx, 20, "cr4-smap"
    CR4_FEATURE 11, 7, ecx, 2, "cr4-umip"
    CR4_FEATURE 22, 7, ecx, 3, "cr4-pke"

    ; ---- CR0 -------------------------------------------------------------------------
    mov rax, cr0
    mov r12, rax
    bts rax, 32
    EXPECT_FAULT 13, "cr0-bit32-gp", mov cr0, rax
    mov rax, cr0
    cmp rax, r12
    CHECK e, "cr0-bit32-gp-unchanged", "cr0=", rax
    mov rax, cr0
    mov r12, rax
    bts rax, 29                             ; NW
    btr rax, 30                             ; without CD
    EXPECT_FAULT 13, "cr0-nw-without-cd-gp", mov cr0, rax
    mov rax, cr0
    cmp rax, r12
    CHECK e, "cr0-nw-without-cd-gp-unchanged", "cr0=", rax
    mov rax, cr0
    mov r12, rax
    btr rax, 31                             ; PG off in 64-bit mode
    EXPECT_FAULT 13, "cr0-clear-pg-gp-lm", mov cr0, rax
    mov rax, cr0
    cmp rax, r12
    CHECK e, "cr0-clear-pg-gp-lm-unchanged", "cr0=", rax

    jmp finish

    EMIT_LIB
    XF_EMIT64

[section .data]
    align 16
descriptor:     times 16 db 0
rdtscp_flags:   dd 0                        ; CPUID.8000_0001:EDX
