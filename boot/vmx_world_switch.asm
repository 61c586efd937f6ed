; The Intel VT-x world switch: VMLAUNCH or VMRESUME with every guest general-purpose
; register and the guest's x87/SSE state loaded from its register file
; (Sources/HypervisorCore/VCPU/VirtualCPU.swift: GuestRegisters at 0, FXSAVE image at 160),
; and the way back: the VMCS's HOST_RIP is vmx_exit_landing, HOST_RSP the stack pointer
; this function wrote just before entering. RSP, RIP and RFLAGS travel in the VMCS.
;
; int vmx_world_switch(void *register_file, int launched, struct exit_fast_path *fast)
;
; The fast path (docs/exit-path.md): a CPUID exit whose leaf is in the vCPU's answer table
; (exit_fast_path.h) is answered at vmx_exit_landing and the guest resumed with VMRESUME,
; without the register file, FXSAVE/FXRSTOR or the run loop. The length is
; VM_EXIT_INSTRUCTION_LEN. Anything else returns to the run loop. The VMX-preemption timer
; restarts from its field at each VMRESUME, so the fast path ends at the block's TSC
; deadline, which the run loop writes with the timer.
;   returns 0 after a VM exit, 1 when VMLAUNCH/VMRESUME itself failed (VMfailValid or
;   VMfailInvalid: the VM-instruction error field says why, SDM 3C §31.4).

%include "guest_register_file.inc"
%include "exit_fast_path.inc"
%define VMCS_EXIT_REASON        0x4402
%define VMCS_IDT_VECTORING_INFO 0x4408
%define VMCS_EXIT_INSTR_LEN     0x440C
%define VMCS_GUEST_RIP          0x681E
%define VMCS_EXIT_QUALIFICATION 0x6400
%define VMCS_GUEST_SS_AR        0x4818
%define VMX_EXIT_CPUID          10
%define VMX_EXIT_VMCALL         18
%define VMX_EXIT_IO             30
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
    push rdx                         ; [rsp + 8] the fast-path block
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
    add rsp, 16
    mov eax, 1
    jmp vmx_switch_return

; The guest's registers into the register file ([rsp] after the macro's push: the guest's
; RDI; the register file above it).
%macro SAVE_GUEST 0
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
%endmacro

vmx_exit_landing:
    push rdi                         ; the guest's RDI and RSI; [rsp + 16] the register
    push rsi                         ; file, [rsp + 24] the fast-path block
    mov rsi, VMCS_EXIT_REASON
    vmread rsi, rsi
    cmp esi, VMX_EXIT_CPUID          ; bit 31 (entry failure) set: no match
    je .cpuid
    cmp esi, VMX_EXIT_IO
    je .io
    cmp esi, VMX_EXIT_VMCALL
    je .vmcall
.slow:
    pop rsi
    SAVE_GUEST
    add rsp, 16
    xor eax, eax
    jmp vmx_switch_return

; Common to the fast exits: RSI = the block; the slow path unless enabled, no event whose
; delivery the exit interrupted, and before the deadline.
%macro VMX_FAST_ENTRY 0
    mov rsi, [rsp + 24]
    cmp qword [rsi + FP_ENABLED], 0
    je .slow
    mov rdi, VMCS_IDT_VECTORING_INFO
    vmread rdi, rdi
    test edi, 0x80000000
    jnz .slow
    push rax
    push rdx
    rdtsc
    shl rdx, 32
    or rax, rdx
    cmp rax, [rsi + FP_DEADLINE]
    pop rdx
    pop rax
    jae .slow
%endmacro

; RIP past the instruction (VM_EXIT_INSTRUCTION_LEN), the served count, back into the guest.
%macro VMX_FAST_RESUME 0
    add qword [rsi + FP_SERVED], 1
    mov rsi, VMCS_EXIT_INSTR_LEN
    vmread rdi, rsi
    mov rsi, VMCS_GUEST_RIP
    vmread rsi, rsi
    add rdi, rsi
    mov rsi, VMCS_GUEST_RIP
    vmwrite rsi, rdi
    pop rsi
    pop rdi
    vmresume
    jmp .resume_failed
%endmacro

; CPUID from the table: a tabled leaf (slot (leaf >> 30) * 32 + (leaf & 0x1F)) and subleaf.
.cpuid:
    VMX_FAST_ENTRY
    test eax, 0x3FFFFFE0
    jnz .slow
    cmp eax, 0xC0000000
    jae .slow
    mov edi, eax
    shr edi, 25                      ; bits 30-31 to 5-6 (bits 25-29 are clear)
    or edi, eax
    and edi, 0x7F
    shl edi, 5
    lea rdi, [rsi + FP_CPUID + rdi]
    test byte [rdi + FPC_FLAGS], 1
    jz .slow
    test byte [rdi + FPC_FLAGS], 2
    jz .cpuid_served
    cmp ecx, [rdi + FPC_SUBLEAF]
    jne .slow
.cpuid_served:
    mov eax, [rdi + FPC_EAX]         ; 32-bit results zero-extend, as CPUID does
    mov ebx, [rdi + FPC_EBX]
    mov ecx, [rdi + FPC_ECX]
    mov edx, [rdi + FPC_EDX]
    add qword [rsi + FP_CPUID_SERVED], 1
    VMX_FAST_RESUME

; IN/OUT (not string, not REP) on a port no device claims: a write is dropped, a read gives
; all ones in AL/AX, or EAX zero-extended (PortIOHandler). Exit qualification (SDM 3C
; Table 28-5): bits 2:0 size - 1, bit 3 IN, bit 4 string, bit 5 REP, bits 31:16 port.
.io:
    VMX_FAST_ENTRY
    mov rdi, [rsi + FP_PORT_BITMAP]
    test rdi, rdi
    jz .slow
    push rcx
    push rdx
    mov rdx, VMCS_EXIT_QUALIFICATION
    vmread rdx, rdx
    test edx, 0x30
    jnz .io_slow
    mov ecx, edx
    shr ecx, 16
    bt [rdi], ecx                    ; a claimed port: its device model
    jc .io_slow
    test edx, 8
    jz .io_write
    and edx, 7
    cmp edx, 3
    je .io_in32
    mov ecx, 0xFF
    cmp edx, 1
    jne .io_in
    mov ecx, 0xFFFF
.io_in:
    or rax, rcx                      ; AL/AX all ones, the rest of RAX kept
    jmp .io_read_done
.io_in32:
    mov eax, 0xFFFFFFFF              ; EAX, zero-extended (SDM 1 §3.4.1.1)
.io_read_done:
    add qword [rsi + FP_PORT_READS_SERVED], 1
    jmp .io_done
.io_write:
    add qword [rsi + FP_PORT_WRITES_SERVED], 1
.io_done:
    pop rdx
    pop rcx
    VMX_FAST_RESUME
.io_slow:
    pop rdx
    pop rcx
    jmp .slow

; VMCALL "identify" (RAX = 0) at CPL 0 (SS.DPL, SDM 3C §24.4.1): RAX stays 0 (success), RBX
; and RCX HypercallHandler's answer, copied into the block.
.vmcall:
    VMX_FAST_ENTRY
    test rax, rax
    jnz .slow
    mov rdi, VMCS_GUEST_SS_AR
    vmread rdi, rdi
    test edi, 0x60
    jnz .slow
    mov rbx, [rsi + FP_IDENTIFY_RBX]
    mov rcx, [rsi + FP_IDENTIFY_RCX]
    add qword [rsi + FP_HYPERCALLS_SERVED], 1
    VMX_FAST_RESUME

; VMRESUME failed: the guest's registers are not the register file's any more.
.resume_failed:
    push rdi
    SAVE_GUEST
    add rsp, 16
    mov eax, 1
    jmp vmx_switch_return


vmx_switch_return:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret
