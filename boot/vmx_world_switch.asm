; The Intel VT-x world switch: VMLAUNCH or VMRESUME with every guest general-purpose
; register and the guest's x87/SSE state loaded from its register file
; (Sources/HypervisorCore/VCPU/VirtualCPU.swift: GuestRegisters at 0, FXSAVE image at 160),
; and the way back: the VMCS's HOST_RIP is vmx_exit_landing, HOST_RSP the stack pointer
; this function wrote just before entering. RSP, RIP and RFLAGS travel in the VMCS.
;
; int vmx_world_switch(void *register_file, int launched)
;   returns 0 after a VM exit, 1 when VMLAUNCH/VMRESUME itself failed (VMfailValid or
;   VMfailInvalid: the VM-instruction error field says why, SDM 3C §31.4).

%include "guest_register_file.inc"
%define VMCS_HOST_RSP 0x6C14

section .text
bits 64
global vmx_world_switch
global vmx_exit_landing
vmx_world_switch:
    push rbp
    mov rbp, rsp
    push rbx
    push r12
    push r13
    push r14
    push r15
    push rdi                         ; [rsp] register file, found again after the exit

    mov rax, VMCS_HOST_RSP
    vmwrite rax, rsp
    fxrstor64 [rdi + FXSAVE_AREA]
    ; The guest's CR2: neither VM entry nor exit switches it (SDM 3C §25.4.1). MOV to CR2 is
    ; serializing (SDM 3A "Serializing Instructions"): written only when it differs.
    mov rax, cr2
    cmp rax, [rdi + REG_CR2]
    je .cr2_loaded
    mov rax, [rdi + REG_CR2]
    mov cr2, rax
.cr2_loaded:

    test esi, esi                    ; MOVs below leave the flags alone
    mov rax, [rdi + REG_RAX]
    mov rcx, [rdi + REG_RCX]
    mov rdx, [rdi + REG_RDX]
    mov rbx, [rdi + REG_RBX]
    mov rbp, [rdi + REG_RBP]
    mov rsi, [rdi + REG_RSI]
    mov r8,  [rdi + REG_R8]
    mov r9,  [rdi + REG_R9]
    mov r10, [rdi + REG_R10]
    mov r11, [rdi + REG_R11]
    mov r12, [rdi + REG_R12]
    mov r13, [rdi + REG_R13]
    mov r14, [rdi + REG_R14]
    mov r15, [rdi + REG_R15]
    mov rdi, [rdi + REG_RDI]
    jnz .resume
    vmlaunch
    jmp .failed
.resume:
    vmresume
.failed:
    ; Still the host: the guest never ran. Report failure.
    pop rdi
    mov eax, 1
    jmp vmx_switch_return

vmx_exit_landing:
    push rdi                         ; the guest's RDI; [rsp + 8] is the register file
    mov rdi, [rsp + 8]
    mov [rdi + REG_RAX], rax
    mov [rdi + REG_RCX], rcx
    mov [rdi + REG_RDX], rdx
    mov [rdi + REG_RBX], rbx
    mov [rdi + REG_RBP], rbp
    mov [rdi + REG_RSI], rsi
    mov [rdi + REG_R8],  r8
    mov [rdi + REG_R9],  r9
    mov [rdi + REG_R10], r10
    mov [rdi + REG_R11], r11
    mov [rdi + REG_R12], r12
    mov [rdi + REG_R13], r13
    mov [rdi + REG_R14], r14
    mov [rdi + REG_R15], r15
    pop rax
    mov [rdi + REG_RDI], rax
    mov rax, cr2
    mov [rdi + REG_CR2], rax
    fxsave64 [rdi + FXSAVE_AREA]
    add rsp, 8
    xor eax, eax
vmx_switch_return:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret
