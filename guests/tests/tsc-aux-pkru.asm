; IA32_TSC_AUX and PKRU stay per vCPU (docs/guest-abi.md): run as two VMs of two vCPUs each
; (cpus=2) on a node with fewer physical CPUs, so vCPUs of both VMs take turns on one CPU.
; Each vCPU picks its own values from its TSC (so that the two VMs, with the same APIC IDs,
; differ too), writes TSC_AUX with WRMSR and, where CPUID offers PKU, sets CR4.PKE and
; writes PKRU with WRPKRU; then, for ROUNDS rounds, exits (OUT to an unclaimed port, CPUID)
; and checks that RDTSCP's ECX (and RDPID where offered) still reads its TSC_AUX and RDPKRU
; its PKRU. It also checks that WRMSR of TSC_AUX with bit 32 set raises #GP (the value
; kept), and that CPUID.7.0:ECX's OSPKE follows its CR4.PKE.
; Expected: "[<vm>] vcpu N: tsc-aux ok" with "pku on" or "pku off" and "rdpid on" or "rdpid
; off", for both vCPUs, then "[<vm>] PASS tsc-aux-pkru" and exit code 0; on a mismatch
; "[<vm>] FAIL ..." and exit code 1.

%ifndef ROUNDS
ROUNDS equ 20000                      ; tsc-aux-pkru-short.asm: fewer, for Bochs
%endif

    org 0x1000
bits 16
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov es, ax
    mov eax, 1
    cpuid
    shr ebx, 24
    movzx ebx, bl                     ; the APIC ID: 0 or 1
    mov sp, 0x7000
    mov cx, bx
    shl cx, 10
    sub sp, cx                        ; each vCPU its own stack
    mov di, bx
    shl di, 5                         ; DI: this vCPU's 32-byte slot in `slots`
    add di, slots
    mov [di + 16], bl

    ; Features: RDTSCP (0x8000_0001 EDX 27) is required; RDPID (7.0 ECX 22) and PKU (3) optional.
    mov eax, 0x80000001
    cpuid
    bt edx, 27
    jnc fail_no_rdtscp
    xor ecx, ecx
    mov eax, 7
    cpuid
    mov [di + 12], ecx                ; leaf 7 ECX as first read (CR4.PKE = 0)
    test ecx, 1 << 4
    jnz fail_ospke_early

    ; #GP on a reserved TSC_AUX bit: an IVT entry for vector 13 that skips the 2-byte WRMSR.
    mov word [13 * 4], gp_handler
    mov word [13 * 4 + 2], 0

    ; Values from the TSC: TSC_AUX bits 31:0, PKRU any 32 bits (rights for 16 keys).
    rdtsc
    xor eax, edx
    or eax, 1                         ; never 0, so a reset value is not mistaken for ours
    mov [di], eax
    imul eax, eax, 0x9E3779B1
    mov [di + 4], eax
    mov ecx, 0xC0000103
    mov eax, [di]
    xor edx, edx
    wrmsr
    mov byte [gp_seen], 0
    mov ecx, 0xC0000103
    mov eax, 0x12345678
    mov edx, 1                        ; bit 32: reserved
    wrmsr                             ; must raise #GP (the handler skips it)
    cmp byte [gp_seen], 1
    jne fail_no_gp
    mov ecx, 0xC0000103
    rdmsr
    cmp eax, [di]
    jne fail_aux
    test edx, edx
    jnz fail_aux

    test dword [di + 12], 1 << 3
    jz .no_pku
    mov eax, cr4
    or eax, 1 << 22                   ; CR4.PKE
    mov cr4, eax
    xor ecx, ecx
    mov eax, 7
    cpuid
    test ecx, 1 << 4                  ; OSPKE now follows CR4.PKE
    jz fail_ospke
    mov eax, [di + 4]
    xor ecx, ecx
    xor edx, edx
    db 0x0F, 0x01, 0xEF               ; WRPKRU
.no_pku:

    mov dword [di + 8], ROUNDS
.round:
    out 0x80, al                      ; an exit (no device claims port 0x80)
    xor eax, eax
    cpuid                             ; another (the fast path where it serves)
    db 0x0F, 0x01, 0xF9               ; RDTSCP: ECX = TSC_AUX
    cmp ecx, [di]
    jne fail_aux
    test dword [di + 12], 1 << 22
    jz .no_rdpid
    db 0xF3, 0x0F, 0xC7, 0xF8         ; RDPID EAX
    cmp eax, [di]
    jne fail_aux
.no_rdpid:
    test dword [di + 12], 1 << 3
    jz .next
    xor ecx, ecx
    db 0x0F, 0x01, 0xEE               ; RDPKRU: EAX = PKRU
    cmp eax, [di + 4]
    jne fail_pkru
.next:
    pause
    dec dword [di + 8]
    jnz .round

    ; Report this vCPU, one at a time (a byte lock: XCHG is atomic).
.lock:
    mov al, 1
    xchg al, [print_lock]
    test al, al
    jz .locked
    pause
    jmp .lock
.locked:
    mov si, msg_vcpu
    call print
    mov al, [di + 16]
    add al, '0'
    call putc
    mov si, msg_ok
    call print
    mov si, msg_pku_off
    test dword [di + 12], 1 << 3
    jz .pku_said
    mov si, msg_pku_on
.pku_said:
    call print
    mov si, msg_rdpid_off
    test dword [di + 12], 1 << 22
    jz .rdpid_said
    mov si, msg_rdpid_on
.rdpid_said:
    call print
    mov byte [print_lock], 0
    lock inc byte [done]
    cmp byte [di + 16], 0
    jne park
.wait:
    cmp byte [done], 2
    je .all
    pause
    jmp .wait
.all:
    mov si, msg_pass
    call print
    xor eax, eax
    out 0xF4, eax
    jmp $

park:
    cli
    hlt
    jmp park

gp_handler:                           ; real-mode #GP: skip the 2-byte WRMSR
    push bp
    mov bp, sp
    add word [bp + 2], 2
    mov byte [gp_seen], 1
    pop bp
    iret

fail_no_rdtscp:
    mov si, msg_no_rdtscp
    jmp fail
fail_ospke_early:
    mov si, msg_ospke_early
    jmp fail
fail_ospke:
    mov si, msg_ospke
    jmp fail
fail_no_gp:
    mov si, msg_no_gp
    jmp fail
fail_aux:
    mov si, msg_aux
    jmp fail
fail_pkru:
    mov si, msg_pkru
fail:
    call print
    mov eax, 1
    out 0xF4, eax
    jmp park

print:                                ; SI: NUL-terminated string to COM1
    lodsb
    test al, al
    jz .done
    call putc
    jmp print
.done:
    ret

putc:                                 ; AL to COM1
    mov dx, 0x3F8
    out dx, al
    ret

print_lock:    db 0
done:          db 0
gp_seen:       db 0
msg_vcpu:      db "vcpu ", 0
msg_ok:        db ": tsc-aux ok", 0
msg_pku_on:    db ", pku on", 0
msg_pku_off:   db ", pku off", 0
msg_rdpid_on:  db ", rdpid on", 13, 10, 0
msg_rdpid_off: db ", rdpid off", 13, 10, 0
msg_pass:      db "PASS tsc-aux-pkru", 13, 10, 0
msg_no_rdtscp: db "FAIL no RDTSCP in CPUID", 13, 10, 0
msg_ospke_early: db "FAIL OSPKE set with CR4.PKE = 0", 13, 10, 0
msg_ospke:     db "FAIL OSPKE clear with CR4.PKE = 1", 13, 10, 0
msg_no_gp:     db "FAIL WRMSR TSC_AUX bit 32 did not #GP", 13, 10, 0
msg_aux:       db "FAIL TSC_AUX changed", 13, 10, 0
msg_pkru:      db "FAIL PKRU changed", 13, 10, 0
    align 16
slots:         times 64 db 0          ; per vCPU: TSC_AUX, PKRU, rounds left, leaf 7 ECX,
                                      ; APIC ID (+16)
