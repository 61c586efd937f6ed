; Peregrine's entry from GRUB: the multiboot2 header, the 32-bit entry, the switch to long mode
; with a provisional identity map of the low 4 GiB, and the call into Swift (kmain).
; The Swift kernel replaces these page tables with its own as soon as it knows the memory map.
;
; Multiboot2 spec 1.0 §3.1 (header) and §3.3 (machine state at entry: EAX = magic,
; EBX = physical address of the information block, protected mode, paging off).

MB2_MAGIC        equ 0xE85250D6
MB2_ARCH_I386    equ 0
MB2_BOOT_MAGIC   equ 0x36D76289

COM1             equ 0x3F8

extern kmain
extern __stack_top
global bsp_cpu_local
global boot_pml4

section .multiboot2 progbits alloc noexec nowrite align=8
mb2_header:
    dd MB2_MAGIC
    dd MB2_ARCH_I386
    dd mb2_header_end - mb2_header
    dd -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
    ; end tag
    dw 0, 0
    dd 8
mb2_header_end:

section .boot.text progbits alloc exec nowrite align=16
bits 32
global _start
_start:
    cli
    cld
    mov esp, boot_stack_top
    mov edi, eax                     ; keep magic and info pointer across the setup
    mov esi, ebx

    cmp edi, MB2_BOOT_MAGIC
    jne .not_multiboot2

    ; Long mode needs CPUID leaf 0x80000001 EDX.LM (bit 29) (SDM 2A CPUID).
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .no_long_mode
    mov eax, 0x80000001
    cpuid
    bt edx, 29
    jnc .no_long_mode
    mov ebp, edx                     ; bit 20: NX available

    ; Identity map 0-4 GiB with 2 MiB pages: PML4[0] -> PDPT, PDPT[0..3] -> four PDs.
    mov eax, boot_pdpt
    or eax, 0x3                      ; present, writable
    mov [boot_pml4], eax
    mov ecx, 0
.fill_pdpt:
    mov eax, ecx
    shl eax, 12
    add eax, boot_pd
    or eax, 0x3
    mov [boot_pdpt + ecx * 8], eax
    inc ecx
    cmp ecx, 4
    jne .fill_pdpt
    mov ecx, 0
.fill_pd:                            ; 2048 entries of 2 MiB each
    mov eax, ecx
    shl eax, 21
    or eax, 0x83                     ; present, writable, page size
    mov [boot_pd + ecx * 8], eax
    mov eax, ecx
    shr eax, 11                      ; bits 32+ of the physical address
    mov [boot_pd + ecx * 8 + 4], eax
    inc ecx
    cmp ecx, 2048
    jne .fill_pd

    mov eax, cr4
    or eax, (1 << 5)                 ; PAE
    mov cr4, eax
    mov eax, boot_pml4
    mov cr3, eax

    mov ecx, 0xC0000080              ; IA32_EFER
    rdmsr
    or eax, (1 << 8)                 ; LME
    bt ebp, 20
    jnc .no_nx
    or eax, (1 << 11)                ; NXE, so the Swift page tables can mark data non-executable
.no_nx:
    wrmsr

    mov eax, cr0
    or eax, (1 << 31) | (1 << 16) | 1   ; PG, WP (read-only pages bind ring 0 too), PE
    mov cr0, eax

    lgdt [boot_gdt_pointer]
    jmp 0x08:long_mode_entry

.not_multiboot2:
    mov ebx, msg_not_mb2
    jmp boot_fail
.no_long_mode:
    mov ebx, msg_no_lm
    jmp boot_fail

; Prints the NUL-terminated string at EBX on COM1 and halts: the only voice the boot
; stub has before Swift runs.
boot_fail:
.next:
    mov al, [ebx]
    test al, al
    jz .halt
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    mov dx, COM1
    mov al, [ebx]
    out dx, al
    inc ebx
    jmp .next
.halt:
    cli
    hlt
    jmp .halt

bits 64
long_mode_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    mov rsp, __stack_top
    xor ebp, ebp                     ; ends the frame-pointer chain for backtraces

    ; Per-CPU data through GS (Sources/Kernel/SMP/CPULocal.swift): IA32_GS_BASE, set after
    ; the selector load above, which clears it. The bootstrap processor is CPU 0.
    mov ecx, 0xC0000101              ; IA32_GS_BASE
    mov rax, bsp_cpu_local
    mov rdx, rax
    shr rdx, 32
    wrmsr
    mov rax, __stack_top
    mov [bsp_cpu_local + 24], rax

    ; SSE for compiled Swift code: CR0.EM = 0, CR0.MP = 1; CR4.OSFXSR, CR4.OSXMMEXCPT (SDM 3A §13.1.3).
    mov rax, cr0
    and rax, ~(1 << 2)
    or rax, (1 << 1)
    mov cr0, rax
    mov rax, cr4
    or rax, (1 << 9) | (1 << 10)
    mov cr4, rax

    ; kmain(magic, info): EDI and ESI still hold them, zero-extended by the 32-bit moves.
    mov edi, edi
    mov esi, esi
    call kmain
.hang:
    cli
    hlt
    jmp .hang

section .boot.rodata progbits alloc noexec nowrite align=16
msg_not_mb2: db "peregrine: not started by a multiboot2 loader; halting", 13, 10, 0
msg_no_lm:   db "peregrine: this CPU has no long mode (x86-64); halting", 13, 10, 0

align 16
boot_gdt:
    dq 0
    dq 0x00AF9A000000FFFF            ; 0x08: 64-bit code, DPL 0
    dq 0x00CF92000000FFFF            ; 0x10: data, DPL 0
boot_gdt_end:
boot_gdt_pointer:
    dw boot_gdt_end - boot_gdt - 1
    dd boot_gdt

section .boot.bss nobits alloc write align=4096
boot_pml4: resb 4096              ; also the APs' first page tables (ap_trampoline.asm)
boot_pdpt: resb 4096
boot_pd:   resb 4096 * 4
boot_stack: resb 4096
boot_stack_top:
align 64
bsp_cpu_local: resb 32              ; CPULocalArea (arch.h): object, index 0, APIC ID, stack top
