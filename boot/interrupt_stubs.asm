; Interrupt and exception entry stubs. Each stub makes the stack uniform (a vector number and
; an error code, zero when the CPU pushes none: SDM 3A §6.13), saves every general-purpose
; register into a TrapFrame (Sources/CArch/include/trap_frame.h) and calls the Swift handler
; peregrine_trap(frame*). When the handler returns, the frame is restored and IRETQ resumes.

extern peregrine_trap

section .text
bits 64

; Vectors whose exceptions push an error code (SDM 3A Table 6-1).
%define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

%macro TRAP_STUB 1
align 16
trap_stub_%1:
%if HAS_ERROR_CODE(%1) == 0
    push 0
%endif
    push %1
    jmp trap_common
%endmacro

%assign vector 0
%rep 256
    TRAP_STUB vector
%assign vector vector + 1
%endrep

trap_common:
    push rax
    push rcx
    push rdx
    push rbx
    push rbp
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    ; The frame-pointer chain continues through the interrupted code: RBP still holds its frame.
    mov rbx, rsp
    and rsp, ~0xF                    ; the SysV ABI wants a 16-byte aligned stack at the call
    cld
    call peregrine_trap
    mov rsp, rbx
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rbp
    pop rbx
    pop rdx
    pop rcx
    pop rax
    add rsp, 16                      ; vector and error code
    iretq

section .rodata
align 8
global trap_stub_table
trap_stub_table:
%assign vector 0
%rep 256
    dq trap_stub_ %+ vector
%assign vector vector + 1
%endrep
