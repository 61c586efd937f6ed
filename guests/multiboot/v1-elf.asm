; v1-elf.asm -- a multiboot (v1) test kernel in ELF32 form, as kvm-unit-tests' are: a
; hand-made ELF header with one PT_LOAD segment at 1 MiB (its file bytes, then a bss with the
; stack), and a multiboot header with flags 0 (no address fields: the loader reads the ELF).
; Checks: guests/include/multiboot-checks.inc. Profile: vm name=mbtest-v1 kind=multiboot
; mem=16M -- hello=world, with a module "module vm=mbtest-v1 mod-one".

MB_VERSION equ 1
LOAD_ADDRESS equ 0x100000

    org LOAD_ADDRESS
    bits 32
elf_header:
    db 0x7F, "ELF", 1, 1, 1, 0          ; ELFCLASS32, little-endian, version 1
    times 8 db 0
    dw 2                                ; ET_EXEC
    dw 3                                ; EM_386
    dd 1                                ; EV_CURRENT
    dd mb_entry                         ; e_entry
    dd program_header - elf_header      ; e_phoff
    dd 0                                ; e_shoff
    dd 0                                ; e_flags
    dw 52                               ; e_ehsize
    dw 32                               ; e_phentsize
    dw 1                                ; e_phnum
    dw 40, 0, 0                         ; e_shentsize, e_shnum, e_shstrndx
program_header:
    dd 1                                ; PT_LOAD
    dd 0                                ; p_offset
    dd LOAD_ADDRESS                     ; p_vaddr
    dd LOAD_ADDRESS                     ; p_paddr
    dd file_end - LOAD_ADDRESS          ; p_filesz
    dd mb_stack_top - LOAD_ADDRESS      ; p_memsz
    dd 7                                ; PF_R | PF_W | PF_X
    dd 0x1000                           ; p_align

    align 4
multiboot_header:
    dd 0x1BADB002
    dd 0
    dd -0x1BADB002

%include "multiboot-checks.inc"

[section .data]
file_end:
[section .bss]
    resb 8192
mb_stack_top:
