; The AMD-V world switch: enter the guest with VMRUN and come back on #VMEXIT, with every
; guest general-purpose register and the guest's x87/SSE state saved in its register file
; (Sources/HypervisorCore/VCPU/VirtualCPU.swift: GuestRegisters at 0, FXSAVE image at 160).
; RAX, RSP, RIP and RFLAGS travel in the VMCB. VMSAVE/VMLOAD swap the state VMRUN does not
; (FS, GS, TR, LDTR, KernelGSbase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER: APM Vol 2 §15.5.2).
;
; void svm_world_switch(uint64_t guest_vmcb, uint64_t host_vmcb, void *register_file,
;                       struct exit_fast_path *fast)
;
; The fast path (docs/exit-path.md): three hot exits are answered here from the vCPU's
; block (exit_fast_path.h), which the handlers' own code fills, and the guest re-entered
; without VMSAVE/VMLOAD, FXSAVE/FXRSTOR or the run loop: CPUID from the answer table,
; IN/OUT on a port no device claims, VMMCALL "identify". Without NRIPS the bytes at RIP
; must be proven to be the instruction. Anything not proven returns to the run loop,
; which handles it the one general way. Interrupts and
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
%define VMCB_EXIT_INFO1    0x078
%define VMCB_EXIT_INFO2    0x080
%define VMCB_CPL           0x4CB
%define SVM_EXIT_CPUID     0x72
%define SVM_EXIT_IOIO      0x7B
%define SVM_EXIT_VMMCALL   0x81

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
    cmp qword [rax + VMCB_EXIT_CODE], SVM_EXIT_IOIO
    je .ioio
    cmp qword [rax + VMCB_EXIT_CODE], SVM_EXIT_VMMCALL
    je .vmmcall
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

; Common entry of the fast exits: the guest's RSI, RDI, RBX, RDX saved (the fast path
; uses them), RSI = the fast-path block; the slow path unless it is enabled and no event
; waits to be re-injected (APM §15.7.2).
%macro FAST_ENTRY 0
    mov [rsp + SAVED_RSI], rsi
    mov [rsp + SAVED_RDI], rdi
    mov [rsp + SAVED_RBX], rbx
    mov [rsp + SAVED_RDX], rdx
    mov rsi, [rsp + FAST]
    cmp qword [rsi + FP_ENABLED], 0  ; the run loop has an event or interrupt in flight
    je .bail
    test dword [rax + VMCB_EXIT_INT_INFO], 0x80000000
    jnz .bail
%endmacro

; Without NRIPS the length is not reported: the bytes at RIP must be the exiting
; instruction in the current mapping. The proof is the code-page cache's: the page it
; walked (linear page, address space), its page-table entries unchanged, and the bytes
; read there. Leaves RDI = the host address of the bytes at RIP (%1 bytes on this page).
%macro PROVE_BYTES_AT_RIP 1
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
    cmp edi, 4096 - %1
    ja .bail
    add rdi, [rsi + FP_HOST_PAGE]
%endmacro

; Back into the guest after a served exit: what the run loop does after every exit, the
; scratch registers the guest's again.
%macro FAST_RESUME 0
    add qword [rsi + FP_SERVED], 1
    mov byte [rax + VMCB_TLB_CONTROL], 0
    mov qword [rax + VMCB_EVENT_INJ], 0
    mov rsi, [rsp + SAVED_RSI]
    mov rdi, [rsp + SAVED_RDI]
    jmp .run
%endmacro

; CPUID (0F A2): the answer from the vCPU's table.
.cpuid:
    FAST_ENTRY
    PROVE_BYTES_AT_RIP 2
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
    jz .cpuid_served
    cmp ecx, [rdi + FPC_SUBLEAF]
    jne .bail
.cpuid_served:
    mov ebx, [rdi + FPC_EAX]         ; 32-bit results zero-extend, as CPUID does
    mov [rax + VMCB_RAX], rbx
    mov ebx, [rdi + FPC_EBX]
    mov ecx, [rdi + FPC_ECX]
    mov edx, [rdi + FPC_EDX]
    add qword [rax + VMCB_RIP], 2
    add qword [rsi + FP_CPUID_SERVED], 1
    FAST_RESUME

; IN/OUT (not string) of a port no device claims (bit clear in the VM's port bitmap): a
; write is dropped, a read gives all ones (PortIOHandler). EXITINFO1: bit 0 IN, bit 2
; string, bit 3 REP, bits 4-6 the size, bits 16-31 the port; EXITINFO2: the next RIP
; (APM Vol 2 §15.10.2).
.ioio:
    FAST_ENTRY
    mov rdi, [rsi + FP_PORT_BITMAP]
    test rdi, rdi
    jz .bail
    mov ebx, [rax + VMCB_EXIT_INFO1]
    test ebx, 0b1100
    jnz .bail
    mov edx, ebx
    shr edx, 16
    bt [rdi], edx                    ; a claimed port: its device model
    jc .bail
    test ebx, 1
    jz .ioio_write
    mov rdx, -1                      ; IN: all ones into AL/AX (the rest of RAX kept) or
    test ebx, 0x40                   ; EAX (zero-extended, SDM 1 §3.4.1.1)
    jnz .ioio_in32
    mov edx, 0xFF
    test ebx, 0x20
    jz .ioio_in
    mov edx, 0xFFFF
.ioio_in:
    or [rax + VMCB_RAX], rdx
    jmp .ioio_read_done
.ioio_in32:
    mov edx, 0xFFFFFFFF
    mov [rax + VMCB_RAX], rdx
.ioio_read_done:
    add qword [rsi + FP_PORT_READS_SERVED], 1
    jmp .ioio_done
.ioio_write:
    add qword [rsi + FP_PORT_WRITES_SERVED], 1
.ioio_done:
    mov rdx, [rax + VMCB_EXIT_INFO2]
    mov [rax + VMCB_RIP], rdx
    mov rbx, [rsp + SAVED_RBX]
    mov rdx, [rsp + SAVED_RDX]
    FAST_RESUME

; VMMCALL (0F 01 D9) from CPL 0 with RAX = 0, the hypercall "identify" (docs/guest-abi.md):
; RAX = 0 (success), RBX and RCX the answer HypercallHandler gives, copied into the block.
.vmmcall:
    FAST_ENTRY
    cmp byte [rax + VMCB_CPL], 0
    jne .bail
    cmp qword [rax + VMCB_RAX], 0
    jne .bail
    PROVE_BYTES_AT_RIP 3
    cmp word [rdi], 0x010F
    jne .bail
    cmp byte [rdi + 2], 0xD9
    jne .bail
    mov rbx, [rsi + FP_IDENTIFY_RBX]
    mov rcx, [rsi + FP_IDENTIFY_RCX]
    add qword [rax + VMCB_RIP], 3
    add qword [rsi + FP_HYPERCALLS_SERVED], 1
    mov rdx, [rsp + SAVED_RDX]
    FAST_RESUME

.bail:
    mov rsi, [rsp + SAVED_RSI]
    mov rdi, [rsp + SAVED_RDI]
    mov rbx, [rsp + SAVED_RBX]
    mov rdx, [rsp + SAVED_RDX]
    jmp .slow
