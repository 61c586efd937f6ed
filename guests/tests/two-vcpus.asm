; Two vCPUs in one VM (cpus=2): both start at 0000:1000 in real mode, each with its own
; VMCB/VMCS. Each reads its initial APIC ID from CPUID leaf 1 EBX[31:24]. vCPU 1 says hello,
; marks a flag in shared memory and halts for good (CLI; HLT); vCPU 0 waits for the flag,
; then says both ran and stops the VM with exit code 0 through the debug-exit port.
; Expected: "[<vm>] vcpu 1 up", "[<vm>] PASS two-vcpus", exit code 0.

    org 0x1000
bits 16
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov eax, 1
    cpuid
    shr ebx, 24
    mov sp, 0x7000
    test bl, bl
    jz vcpu0
    shl bx, 10                       ; each vCPU its own stack
    sub sp, bx
    mov si, msg_vcpu1
    call print
    mov byte [flag], 1
.park:
    cli
    hlt
    jmp .park

vcpu0:
    mov ecx, 0x4000000
.wait:
    cmp byte [flag], 1
    je .seen
    pause
    dec ecx
    jnz .wait
    mov si, msg_fail
    call print
    mov eax, 1
    out 0xF4, eax
.seen:
    mov si, msg_pass
    call print
    xor eax, eax
    out 0xF4, eax
    jmp $

print:                               ; SI: NUL-terminated string to COM1
    mov dx, 0x3F8
.next:
    lodsb
    test al, al
    jz .done
    out dx, al
    jmp .next
.done:
    ret

flag:      db 0
msg_vcpu1: db "vcpu 1 up", 10, 0
msg_pass:  db "PASS two-vcpus", 10, 0
msg_fail:  db "FAIL two-vcpus vcpu 1 never ran", 10, 0
