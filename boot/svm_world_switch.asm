; The AMD-V world switch: enter the guest with VMRUN and come back on #VMEXIT, with every
; guest general-purpose register and the guest's x87/SSE state saved in its register file
; (Sources/HypervisorCore/VCPU/VirtualCPU.swift: GuestRegisters at 0, FXSAVE image at 160).
; RAX, RSP, RIP and RFLAGS travel in the VMCB. VMSAVE/VMLOAD swap the state VMRUN does not
; (FS, GS, TR, LDTR, KernelGSbase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER: APM Vol 2 §15.5.2).
;
; void svm_world_switch(uint64_t guest_vmcb, uint64_t host_vmcb, void *register_file,
;                       struct exit_fast_path *fast)
;
; The fast path: a CPUID exit whose answer is in the vCPU's table (exit_fast_path.h) and
; whose bytes at RIP are proven to be 0F A2 is answered here and the guest re-entered
; without VMSAVE/VMLOAD, FXSAVE/FXRSTOR or the run loop (docs/exit-path.md). Anything not
; proven returns to the run loop, which handles it the one general way. Interrupts and
; requests need no check: GIF = 0 holds a physical interrupt (the slice timer, a kick IPI)
; pending, and the next VMRUN exits for it at once (INTR intercept), to the slow path.

%include "guest_register_file.inc"
%include "exit_fast_path.inc"

; VMCB offsets (APM Vol 2 Appendix B; Sources/SVM/VMCBLayout.swift)
%define VMCB_TLB_CONTROL   0x05C
%define VMCB_EXIT_CODE     0x070
%define VMCB_EXIT_INT_INFO 0x088
%define VMCB_EVENT_INJ     0x0A8
%define VMCB_CS_BASE       0x418
%define VMCB_CR3           0x550
%define VMCB_CR0           0x558
%define VMCB_RIP           0x578
%define VMCB_RAX           0x5F8
%define SVM_EXIT_CPUID     0x72

; stack slots below the pushed arguments: guest RSI, RDI, RBX, RDX while the fast path
; uses them
%define SAVED_RSI  0
%define SAVED_RDI  8
%define SAVED_RBX  16
%define SAVED_RDX  24
%define HOST_VMCB  32
%define GUEST_VMCB 40
%define REG_FILE   48
%define FAST       56

section .text
bits 64
global svm_world_switch
svm_world_switch:
    push rbp
    mov rbp, rsp
    push rbx
    push r12
    push r13
    push r14
    push r15
    push rcx                         ; FAST
    push rdx                         ; REG_FILE
    push rdi                         ; GUEST_VMCB
    push rsi                         ; HOST_VMCB
    sub rsp, 32                      ; SAVED_*

    clgi                             ; no interrupt or NMI between here and VMRUN
    sti                              ; with V_INTR_MASKING the host's IF gates physical
                                     ; interrupts in the guest (APM §15.21.1); GIF = 0 still
                                     ; holds them off until VMRUN
    mov rax, rsi
    vmsave                           ; the host's hidden state
    fxrstor64 [rdx + FXSAVE_AREA]

    mov rax, rdx
    mov rcx, [rax + REG_RCX]
    mov rdx, [rax + REG_RDX]
    mov rbx, [rax + REG_RBX]
    mov rbp, [rax + REG_RBP]
    mov rsi, [rax + REG_RSI]
    mov rdi, [rax + REG_RDI]
    mov r8,  [rax + REG_R8]
    mov r9,  [rax + REG_R9]
    mov r10, [rax + REG_R10]
    mov r11, [rax + REG_R11]
    mov r12, [rax + REG_R12]
    mov r13, [rax + REG_R13]
    mov r14, [rax + REG_R14]
    mov r15, [rax + REG_R15]

    mov rax, [rsp + GUEST_VMCB]
    vmload
.run:
    vmrun
    cmp qword [rax + VMCB_EXIT_CODE], SVM_EXIT_CPUID  ; RAX is the host's again: guest VMCB
    je .cpuid
.slow:
    vmsave

    mov rax, [rsp + REG_FILE]
    mov [rax + REG_RCX], rcx
    mov [rax + REG_RDX], rdx
    mov [rax + REG_RBX], rbx
    mov [rax + REG_RBP], rbp
    mov [rax + REG_RSI], rsi
    mov [rax + REG_RDI], rdi
    mov [rax + REG_R8],  r8
    mov [rax + REG_R9],  r9
    mov [rax + REG_R10], r10
    mov [rax + REG_R11], r11
    mov [rax + REG_R12], r12
    mov [rax + REG_R13], r13
    mov [rax + REG_R14], r14
    mov [rax + REG_R15], r15
    fxsave64 [rax + FXSAVE_AREA]

    mov rax, [rsp + HOST_VMCB]
    vmload                           ; the host's hidden state back
    stgi                             ; an interrupt that forced the exit is taken here,
    cli                              ; by the host's IDT (the slice timer: Scheduler)
    add rsp, 64
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

; CPUID: served from the table when everything below holds, else .bail to the slow path.
.cpuid:
    mov [rsp + SAVED_RSI], rsi
    mov [rsp + SAVED_RDI], rdi
    mov [rsp + SAVED_RBX], rbx
    mov [rsp + SAVED_RDX], rdx
    mov rsi, [rsp + FAST]
    cmp qword [rsi + FP_ENABLED], 0  ; the run loop has an event or interrupt in flight
    je .bail
    test dword [rax + VMCB_EXIT_INT_INFO], 0x80000000  ; an event to re-inject (APM §15.7.2)
    jnz .bail
    ; The bytes at RIP must be 0F A2 in the current mapping: the page the code-page cache
    ; proved (linear page, address space), its page-table path unchanged, the bytes read.
    mov rdi, [rax + VMCB_RIP]
    add rdi, [rax + VMCB_CS_BASE]
    mov rbx, rdi
    and rbx, -4096
    cmp rbx, [rsi + FP_LINEAR_PAGE]
    jne .bail
    mov rbx, -1                      ; paging off: the unpaged address space
    test dword [rax + VMCB_CR0], 0x80000000
    cmovnz rbx, [rax + VMCB_CR3]
    cmp rbx, [rsi + FP_ADDRESS_SPACE]
    jne .bail
%assign level 0
%rep 4
    mov rbx, [rsi + FP_PATH_HOST + level * 8]
    mov rbx, [rbx]
    cmp rbx, [rsi + FP_PATH_VALUE + level * 8]
    jne .bail
%assign level level + 1
%endrep
    and edi, 0xFFF
    cmp edi, 0xFFE                   ; both bytes on this page
    ja .bail
    add rdi, [rsi + FP_HOST_PAGE]
    cmp word [rdi], 0xA20F
    jne .bail
    ; The slot: (leaf >> 30) * 32 + (leaf & 0x1F), for leaves below 0xC000_0000 whose
    ; bits 5-29 are clear.
    mov ebx, [rax + VMCB_RAX]
    test ebx, 0x3FFFFFE0
    jnz .bail
    mov edx, ebx
    shr edx, 30
    cmp edx, 3
    je .bail
    shl edx, 5
    and ebx, 0x1F
    or edx, ebx
    shl edx, 5
    lea rdi, [rsi + FP_CPUID + rdx]
    mov ebx, [rdi + FPC_FLAGS]
    test ebx, 1
    jz .bail
    test ebx, 2
    jz .served
    cmp ecx, [rdi + FPC_SUBLEAF]
    jne .bail
.served:
    mov ebx, [rdi + FPC_EAX]         ; 32-bit results zero-extend, as CPUID does
    mov [rax + VMCB_RAX], rbx
    mov ebx, [rdi + FPC_EBX]
    mov ecx, [rdi + FPC_ECX]
    mov edx, [rdi + FPC_EDX]
    add qword [rax + VMCB_RIP], 2
    add qword [rsi + FP_CPUID_SERVED], 1
    mov byte [rax + VMCB_TLB_CONTROL], 0
    mov qword [rax + VMCB_EVENT_INJ], 0  ; what the run loop does after every exit
    mov rsi, [rsp + SAVED_RSI]
    mov rdi, [rsp + SAVED_RDI]
    jmp .run
.bail:
    mov rsi, [rsp + SAVED_RSI]
    mov rdi, [rsp + SAVED_RDI]
    mov rbx, [rsp + SAVED_RBX]
    mov rdx, [rsp + SAVED_RDX]
    jmp .slow
