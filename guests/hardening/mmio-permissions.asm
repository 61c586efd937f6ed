; mmio-permissions.asm -- hardening guest: the guest's own paging protection on MMIO
; (SDM Vol 3A §4.6 "Access Rights", §4.7 "Page-Fault Exceptions"; APM Vol 2 §5.6).
;
; 32-bit paging with 4 MiB pages (CR4.PSE), CR0.WP = 1, a TSS and user segments, so that
; probes run at CPL 3 and come back through #PF or INT 0x30. The 4 MiB page holding the MMIO
; test device (guest-physical 0xFEC00000-0xFEFFFFFF) is mapped four times:
;   0xFEC00000  supervisor, writable   (MMIO_BASE = 0xFED00000 as usual)
;   0x40000000  supervisor, read-only  (the device at 0x40100000)
;   0x40400000  user, read-only        (the device at 0x40500000)
; and 0x40800000 maps guest-physical 0x80000000 (no RAM, no device: under unmapped=ignore
; an emulated read would return all ones) as supervisor, writable.
; Each probe that must fault checks #PF, its error code (P | W/R | U/S, Figure 4-12) and CR2:
;   user-read-supervisor-*        CPL 3 read of the device page            0x5, CR2 0xFED00000
;   user-read-nothing-*           CPL 3 read of the empty supervisor page   0x5, CR2 0x40800000
;   user-write-readonly-*         CPL 3 write to the user read-only map     0x7, CR2 0x40500008
;   kernel-write-readonly-wp-*    CPL 0 write, CR0.WP = 1, read-only map    0x3, CR2 0x40100008
;   ins-readonly-wp-*             INSB into read-only RAM, CR0.WP = 1       0x3, CR2 0x40C06000
;   ins-not-present-*             INSB into a not-present page              0x2, CR2 0x41000000
;   outs-not-present-*            OUTSB from a not-present page             0x0, CR2 0x41000010
;   (the string I/O exit comes before the memory access: only the hypervisor raises these)
; and the controls that must not fault (emulated as before):
;   user-read-user-readonly       CPL 3 read through the user map: "PERE"
;   kernel-write-readonly-nowp    CPL 0 write with CR0.WP = 0 reaches the scratch register
; A faulting write must leave the device's scratch register unchanged (*-not-written).
; QEMU's SVM reports the CPL 3 accesses as nested page faults before checking U/S: the
; hypervisor must inject the #PF itself. Bochs (VMX) checks first. Expected: every line
; PASS, "DONE failures=0", the VM stops itself with exit code 0.

%include "lib.inc"
%include "pmode.inc"
%include "exceptions.inc"

PAGE_DIR        equ PT_BASE             ; 4 KiB page directory
USER_CODE_SEL   equ 0x18 | 3
USER_DATA_SEL   equ 0x20 | 3
TSS_SEL         equ 0x28
USER_STACK      equ 0x70000
KERNEL_STACK0   equ 0x78000             ; TSS.ESP0: the #PF from CPL 3 lands here
BACK_VECTOR     equ 0x30                ; INT 0x30: a user probe that did not fault

SUP_RO_DEVICE   equ 0x40100000          ; MMIO_BASE through the supervisor read-only map
USER_RO_DEVICE  equ 0x40500000          ; MMIO_BASE through the user read-only map
NOTHING         equ 0x40800000          ; guest-physical 0x80000000
RAM_RO_MAP      equ 0x40C00000          ; RAM 0-4 MiB again, supervisor read-only
RAM_RO_TARGET   equ RAM_RO_MAP + 0x6000
NOT_PRESENT     equ 0x41000000          ; PDE 0x104: not present

CR0_WP          equ 1 << 16
CR0_PG          equ 1 << 31
CR4_PSE         equ 1 << 4

; PROBE_RESET: before a probe, no #PF seen; the handler's way back is %1.
%macro PROBE_RESET 1
    mov dword [pf_count], 0
    mov dword [pf_error], 0xFFFFFFFF
    mov dword [pf_cr2], 0
    mov [kernel_esp], esp
    mov dword [resume], %1
%endmacro

; USER_PROBE code: run `code` at CPL 3 (it ends with INT 0x30 unless it faults).
%macro USER_PROBE 1
    PROBE_RESET %%back
    ; DS and ES must be user selectors: IRET to CPL 3 nulls data segments of DPL 0.
    mov ax, USER_DATA_SEL
    mov ds, ax
    mov es, ax
    push USER_DATA_SEL          ; SS
    push USER_STACK             ; ESP
    push 0x2                    ; EFLAGS: IF = 0, IOPL = 0
    push USER_CODE_SEL          ; CS
    push %1                     ; EIP
    iretd
%%back:
%endmacro

; KERNEL_PROBE instruction: run it at CPL 0; a #PF resumes after it.
%macro KERNEL_PROBE 1+
    PROBE_RESET %%back
    %1
%%back:
%endmacro

; EXPECT_PF code, cr2, "name": exactly one #PF with that error code and CR2.
%macro EXPECT_PF 3
    %strcat %%pf %3, "-pf"
    %strcat %%code %3, "-error-code"
    %strcat %%cr2 %3, "-cr2"
    mov eax, [pf_count]
    cmp eax, 1
    CHECK e, %%pf, "count=", eax
    mov eax, [pf_error]
    cmp eax, %1
    CHECK e, %%code, "error=", eax
    mov eax, [pf_cr2]
    cmp eax, %2
    CHECK e, %%cr2, "cr2=", eax
%endmacro

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    ; Our own GDT: the flat ring-0 selectors pmode.inc uses, user code and data, a TSS.
    lgdt [perm_gdt_descriptor]
    jmp CODE32_SEL:.reload
.reload:
    mov ax, DATA_SEL
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, perm_tss
    mov [perm_gdt_tss + 2], ax
    shr eax, 16
    mov [perm_gdt_tss + 4], al
    mov [perm_gdt_tss + 7], ah
    mov dword [perm_tss + 4], KERNEL_STACK0     ; ESP0
    mov dword [perm_tss + 8], DATA_SEL          ; SS0
    mov word [perm_tss + 102], 104              ; no I/O permission bitmap
    mov ax, TSS_SEL
    ltr ax

    ; IDT: the 32 exception stubs at DPL 0, INT 0x30 at DPL 3.
    xor ecx, ecx
.gate:
    mov eax, [exc_stub_table + ecx * 4]
    mov [perm_idt + ecx * 8], ax
    mov word [perm_idt + ecx * 8 + 2], CODE32_SEL
    mov word [perm_idt + ecx * 8 + 4], 0x8E00
    shr eax, 16
    mov [perm_idt + ecx * 8 + 6], ax
    inc ecx
    cmp ecx, 32
    jb .gate
    mov eax, back_from_user
    mov [perm_idt + BACK_VECTOR * 8], ax
    mov word [perm_idt + BACK_VECTOR * 8 + 2], CODE32_SEL
    mov word [perm_idt + BACK_VECTOR * 8 + 4], 0xEE00    ; present, DPL 3, interrupt gate
    shr eax, 16
    mov [perm_idt + BACK_VECTOR * 8 + 6], ax
    lidt [perm_idt_descriptor]

    call detect_vendor
    PRINT "TEST mmio-permissions starting", 10

    ; Page directory: 4 MiB pages (PS = bit 7; U/S bit 2, R/W bit 1, P bit 0).
    mov edi, PAGE_DIR
    xor eax, eax
    mov ecx, 1024
    rep stosd
    mov dword [PAGE_DIR + 0 * 4], 0x00000000 | 0x87          ; RAM 0-4 MiB: user, writable
    mov dword [PAGE_DIR + 0x3FB * 4], 0xFEC00000 | 0x83      ; device page: supervisor, RW
    mov dword [PAGE_DIR + 0x100 * 4], 0xFEC00000 | 0x81      ; supervisor, read-only
    mov dword [PAGE_DIR + 0x101 * 4], 0xFEC00000 | 0x85      ; user, read-only
    mov dword [PAGE_DIR + 0x102 * 4], 0x80000000 | 0x83      ; nothing there: supervisor, RW
    mov dword [PAGE_DIR + 0x103 * 4], 0x00000000 | 0x81      ; RAM: supervisor, read-only
    mov eax, PAGE_DIR
    mov cr3, eax
    mov eax, cr4
    or eax, CR4_PSE
    mov cr4, eax
    mov eax, cr0
    or eax, CR0_PG | CR0_WP
    mov cr0, eax

    ; Control: CPL 0 reaches the device through every map.
    mov eax, [MMIO_ID]
    cmp eax, MMIO_ID_VALUE
    CHECK e, "kernel-read-device", "id=", eax
    mov eax, [SUP_RO_DEVICE]
    cmp eax, MMIO_ID_VALUE
    CHECK e, "kernel-read-readonly-map", "id=", eax
    mov dword [MMIO_SCRATCH], 0x1111

    ; ---- CPL 3 ---------------------------------------------------------------------
    USER_PROBE user_read_supervisor
    EXPECT_PF 0x5, MMIO_ID, "user-read-supervisor"

    USER_PROBE user_read_nothing
    EXPECT_PF 0x5, NOTHING, "user-read-nothing"

    USER_PROBE user_write_readonly
    EXPECT_PF 0x7, USER_RO_DEVICE + 8, "user-write-readonly"
    mov eax, [MMIO_SCRATCH]
    cmp eax, 0x1111
    CHECK e, "user-write-readonly-not-written", "scratch=", eax

    mov dword [user_value], 0
    USER_PROBE user_read_readonly
    mov eax, [pf_count]
    cmp eax, 0
    CHECK e, "user-read-user-readonly-no-pf", "count=", eax
    mov eax, [user_value]
    cmp eax, MMIO_ID_VALUE
    CHECK e, "user-read-user-readonly", "value=", eax

    ; ---- CPL 0, CR0.WP ---------------------------------------------------------------
    KERNEL_PROBE mov dword [SUP_RO_DEVICE + 8], 0x2222
    EXPECT_PF 0x3, SUP_RO_DEVICE + 8, "kernel-write-readonly-wp"
    mov eax, [MMIO_SCRATCH]
    cmp eax, 0x1111
    CHECK e, "kernel-write-readonly-wp-not-written", "scratch=", eax

    mov eax, cr0
    and eax, ~CR0_WP
    mov cr0, eax
    KERNEL_PROBE mov dword [SUP_RO_DEVICE + 8], 0x3333
    mov eax, [pf_count]
    cmp eax, 0
    CHECK e, "kernel-write-readonly-nowp-no-pf", "count=", eax
    mov eax, [MMIO_SCRATCH]
    cmp eax, 0x3333
    CHECK e, "kernel-write-readonly-nowp", "scratch=", eax
    mov eax, cr0
    or eax, CR0_WP
    mov cr0, eax

    ; ---- INS/OUTS: the exit comes before the memory access on both vendors, so only the
    ; hypervisor can raise these #PFs (before this check the VM stopped instead).
    mov byte [RAM_RO_TARGET - RAM_RO_MAP], 0x5A
    mov dx, 0x80
    mov edi, RAM_RO_TARGET
    KERNEL_PROBE insb
    EXPECT_PF 0x3, RAM_RO_TARGET, "ins-readonly-wp"
    movzx eax, byte [RAM_RO_TARGET - RAM_RO_MAP]
    cmp eax, 0x5A
    CHECK e, "ins-readonly-wp-not-written", "byte=", eax
    cmp edi, RAM_RO_TARGET
    CHECK e, "ins-readonly-wp-edi-kept", "edi=", edi

    mov edi, NOT_PRESENT
    KERNEL_PROBE insb
    EXPECT_PF 0x2, NOT_PRESENT, "ins-not-present"

    mov esi, NOT_PRESENT + 0x10
    KERNEL_PROBE outsb
    EXPECT_PF 0x0, NOT_PRESENT + 0x10, "outs-not-present"

    jmp finish

; ---- user code (CPL 3): each probe ends with INT 0x30 when it does not fault -------------
user_read_supervisor:
    mov eax, [MMIO_ID]
    int BACK_VECTOR
user_read_nothing:
    mov eax, [NOTHING]
    int BACK_VECTOR
user_write_readonly:
    mov dword [USER_RO_DEVICE + 8], 0x4444
    int BACK_VECTOR
user_read_readonly:
    mov eax, [USER_RO_DEVICE]
    mov [user_value], eax
    int BACK_VECTOR

; ---- the way back to CPL 0 ----------------------------------------------------------------
back_from_user:
    jmp to_kernel

    EXC_STUBS perm_exception
perm_exception:
    ; [esp] vector, [esp+4] error code, [esp+8] EIP
    cmp dword [esp], 14
    jne .unexpected
    mov eax, [esp + 4]
    mov [pf_error], eax
    mov eax, cr2
    mov [pf_cr2], eax
    inc dword [pf_count]
    jmp to_kernel
.unexpected:
    mov ax, DATA_SEL
    mov ds, ax
    mov es, ax
    PRINT "FAIL unexpected-exception vector=0x"
    mov eax, [esp]
    call put_hex
    PRINT " error=0x"
    mov eax, [esp + 4]
    call put_hex
    PRINT " eip=0x"
    mov eax, [esp + 8]
    call put_hex
    PRINT 10
    inc dword [failures]
    mov esp, STACK_TOP
    jmp finish

; Back at CPL 0 on the kernel stack, ring-0 data segments, where the probe said.
to_kernel:
    mov ax, DATA_SEL
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov esp, [kernel_esp]
    jmp [resume]

    EMIT_LIB

[section .data]
    align 8
perm_gdt:
    dq 0                        ; 0x00 null
    dq 0x00CF9A000000FFFF       ; 0x08 code, 32-bit, DPL 0
    dq 0x00CF92000000FFFF       ; 0x10 data, DPL 0
    dq 0x00CFFA000000FFFF       ; 0x18 code, 32-bit, DPL 3
    dq 0x00CFF2000000FFFF       ; 0x20 data, DPL 3
perm_gdt_tss:
    dw 103, 0                   ; 0x28 32-bit TSS: limit, base 15:0 (set at run time)
    db 0, 0x89, 0x00, 0         ;      base 23:16, available TSS, P, DPL 0, base 31:24
perm_gdt_end:
perm_gdt_descriptor:
    dw perm_gdt_end - perm_gdt - 1
    dd perm_gdt
    align 8
perm_idt:
    times BACK_VECTOR + 1 dq 0
perm_idt_descriptor:
    dw (BACK_VECTOR + 1) * 8 - 1
    dd perm_idt
    align 8
perm_tss:
    times 104 db 0
pf_count:       dd 0
pf_error:       dd 0
pf_cr2:         dd 0
kernel_esp:     dd 0
resume:         dd 0
user_value:     dd 0
