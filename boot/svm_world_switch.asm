; The AMD-V world switch: enter the guest with VMRUN and come back on #VMEXIT, with every
; guest general-purpose register and the guest's x87/SSE state saved in its register file
; (Sources/HypervisorCore/VCPU/VirtualCPU.swift: GuestRegisters at 0, FXSAVE image at 160).
; RAX, RSP, RIP and RFLAGS travel in the VMCB. VMSAVE/VMLOAD swap the state VMRUN does not
; (FS, GS, TR, LDTR, KernelGSbase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER: APM Vol 2 §15.5.2).
;
; void svm_world_switch(uint64_t guest_vmcb, uint64_t host_vmcb, void *register_file)

%include "guest_register_file.inc"

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
    push rdx                         ; [rsp + 16] register file
    push rdi                         ; [rsp + 8]  guest VMCB
    push rsi                         ; [rsp]      host VMCB

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

    mov rax, [rsp + 8]
    vmload
    vmrun
    vmsave                           ; RAX is the host's again: the guest VMCB

    mov rax, [rsp + 16]
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

    pop rax
    vmload                           ; the host's hidden state back
    stgi                             ; an interrupt that forced the exit is taken here,
    cli                              ; by the host's IDT (the slice timer: Scheduler)
    add rsp, 16
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret
