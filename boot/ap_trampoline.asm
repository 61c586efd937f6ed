; Application processors start here. The bootstrap processor copies the bytes between
; ap_trampoline_start and ap_trampoline_end to AP_TRAMPOLINE_BASE (0x8000, a page of the
; first MiB, which the frame allocator never hands out) and sends each AP INIT and a
; start-up IPI with vector 0x08: the AP starts in real mode at CS = 0x0800, IP = 0
; (SDM 3A §9.4.4.1, §9.1.4). The code runs from 16-bit real mode through protected mode into
; long mode on the boot stub's identity map of the low 4 GiB (boot_pml4), then jumps to
; ap_long_mode_entry in kernel text, which loads the kernel's page tables (the trampoline
; page is data there: NX), claims the parameter block, sets IA32_GS_BASE and RSP and calls
; peregrine_ap_main in Swift. Nothing here uses a stack, so late or stray APs that run it
; at the same time cannot corrupt each other. Interrupts stay off throughout.
;
; The parameter block's layout is APTrampolineParameters in
; Sources/CArch/include/ap_trampoline.h.

AP_TRAMPOLINE_BASE equ 0x8000
AP_SLOT_WAITING    equ 0
AP_SLOT_CLAIMED    equ 1
IA32_EFER          equ 0xC0000080
IA32_GS_BASE       equ 0xC0000101

extern boot_pml4
extern peregrine_ap_main
global ap_trampoline_start
global ap_trampoline_end
global ap_trampoline_parameters
global ap_mute_start
global ap_mute_end

; The linear address a trampoline label has once copied.
%define AT_BASE(label) (AP_TRAMPOLINE_BASE + (label) - ap_trampoline_start)
; Its offset from the segment base 0x8000 in real mode.
%define IN_PAGE(label) ((label) - ap_trampoline_start)

; The blob is only copied from here, never run in place: it lives with read-only data.
section .rodata
align 16
ap_trampoline_start:
bits 16
    cli
    cld
    mov ax, cs                       ; 0x0800: data at their offsets in the page
    mov ds, ax
    lock inc dword [IN_PAGE(ap_trampoline_parameters.started)]   ; "I am running" for the BSP
    lgdt [IN_PAGE(trampoline_gdt_pointer)]
    mov eax, cr0
    or eax, 1                        ; PE
    mov cr0, eax
    jmp dword 0x08:AT_BASE(.protected_mode)

bits 32
.protected_mode:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    ; Long mode: CR4.PAE, CR3, EFER.LME, then CR0.PG (SDM 3A §10.8.5). CR4 and CR0 are the
    ; BSP's, so OSFXSR/OSXMMEXCPT, WP and NE match it; CR0 clears the CD and NW that INIT
    ; left set (SDM 3A Table 10-1), enabling the caches.
    mov eax, [AT_BASE(ap_trampoline_parameters.cr4)]
    mov cr4, eax
    mov eax, boot_pml4
    mov cr3, eax
    mov ecx, IA32_EFER
    mov eax, [AT_BASE(ap_trampoline_parameters.efer)]
    xor edx, edx
    wrmsr
    mov eax, [AT_BASE(ap_trampoline_parameters.cr0)]
    mov cr0, eax
    jmp far [AT_BASE(long_mode_target)]

align 8
long_mode_target:
    dd ap_long_mode_entry            ; kernel text, below 4 GiB (linker.ld loads it at 2 MiB)
    dw 0x18

align 8
trampoline_gdt:
    dq 0
    dq 0x00CF9A000000FFFF            ; 0x08: 32-bit code, DPL 0
    dq 0x00CF92000000FFFF            ; 0x10: data, DPL 0
    dq 0x00AF9A000000FFFF            ; 0x18: 64-bit code, DPL 0
trampoline_gdt_end:
trampoline_gdt_pointer:
    dw trampoline_gdt_end - trampoline_gdt - 1
    dd AT_BASE(trampoline_gdt)

align 64
ap_trampoline_parameters:
.kernel_cr3: dq 0
.cr0:        dq 0
.cr4:        dq 0
.efer:       dq 0
.local_area: dq 0
.stack_top:  dq 0
.apic_id:    dd 0
.state:      dd 0
.started:    dd 0
.reserved:   dd 0
ap_trampoline_end:

; What the smp_test_fail hook sends a CPU to: a CPU that never answers.
align 16
ap_mute_start:
bits 16
    cli
.halt:
    hlt
    jmp .halt
ap_mute_end:

section .text
bits 64
ap_long_mode_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rax, [AT_BASE(ap_trampoline_parameters.kernel_cr3)]
    mov cr3, rax                     ; may lie above 4 GiB: loaded only now
    ; Only the AP the block is for may take it (initial APIC ID, CPUID.1:EBX[31:24], SDM 2A),
    ; and only once: a CPU the BSP gave up on that starts late parks instead.
    mov eax, 1
    cpuid
    shr ebx, 24
    cmp ebx, [AT_BASE(ap_trampoline_parameters.apic_id)]
    jne .park
    mov eax, AP_SLOT_WAITING
    mov edx, AP_SLOT_CLAIMED
    lock cmpxchg [AT_BASE(ap_trampoline_parameters.state)], edx
    jne .park
    mov rsp, [AT_BASE(ap_trampoline_parameters.stack_top)]
    mov rax, [AT_BASE(ap_trampoline_parameters.local_area)]
    mov rdx, rax
    shr rdx, 32
    mov ecx, IA32_GS_BASE            ; after the GS selector load above, which clears it
    wrmsr
    xor ebp, ebp                     ; ends the frame-pointer chain for backtraces
    call peregrine_ap_main           ; never returns
    ud2                              ; (and backtraces name this function, not .park)
.park:
    cli
    hlt
    jmp .park
