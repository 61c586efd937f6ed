; stale-code-tlb.asm -- hardening guest: the guest remaps its own code page without INVLPG,
; so the processor may run the old page from its TLB while the hypervisor's page walk reads
; the new one.
;
; Linear 0x40000000 is one 4 KiB page (PDPT[1] -> PD -> PT), first mapped to page A at
; 0x30000 ("cpuid; ret"), then, without INVLPG and with no exit in between, to page B at
; 0x31000 ("add esi, 1; ret", whose byte at +2 begins "add ebx, eax; ret"). The guest calls
; the page, changes the entry and calls it again. With EAX = 0x12345678, ESI = EBX = 0:
;   (a) B ran from its start: ESI = 1, EAX unchanged (the processor used the new mapping,
;       or ran CPUID from its TLB and the hypervisor, finding other bytes at RIP, re-entered
;       without emulating it, after which the new mapping was used);
;   (b) CPUID ran (from the TLB) and the guest went on after it, at +2 of B: EAX = the CPUID
;       result, "add ebx, eax" ran, ESI = 0 (VT-x reports the length of what ran).
; The broken outcome is CPUID emulated and RIP moved by the length of B's first instruction
; (3): EAX changed, ESI = 0, EBX unchanged.
;   stale-code-consistent   outcome (a) or (b)
; Then the guest stops itself with exit code = failures.

%include "lib.inc"
%include "pmode.inc"
%include "lmode.inc"
%include "exceptions.inc"

PD_ONE  equ 0x24000                     ; PD for 1-2 GiB
PT_ONE  equ 0x25000                     ; PT for 1 GiB - 1 GiB + 2 MiB
PAGE_A  equ 0x30000
PAGE_B  equ 0x31000
LINEAR  equ 0x40000000

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
    ENTER_LONG_MODE
main:
    SETUP_IDT64
    call detect_vendor
    PRINT "TEST stale-code-tlb starting", 10
    ; page A: 0F A2 (cpuid), C3 (ret)
    mov dword [PAGE_A], 0xC3C3A20F
    ; page B: 83 C6 01 (add esi, 1), C3 (ret); from +2: 01 C3 (add ebx, eax), C3 (ret)
    mov dword [PAGE_B], 0xC301C683
    mov byte [PAGE_B + 4], 0xC3
    mov qword [PT_ONE], PAGE_A | PG_P | PG_RW
    mov qword [PD_ONE], PT_ONE | PG_P | PG_RW
    mov qword [PDPT + 1 * 8], PD_ONE | PG_P | PG_RW
    mov rax, cr3
    mov cr3, rax                        ; a full flush before the experiment

    mov eax, 0
    mov r12d, LINEAR
    call r12                            ; CPUID from page A: fills the TLB

    movzx ecx, byte [r12]               ; the TLB entry for the page is (again) filled
    mov eax, 0x12345678
    xor esi, esi
    xor ebx, ebx
    mov qword [PT_ONE], PAGE_B | PG_P | PG_RW   ; no INVLPG
    call r12
    mov r13, rax
    mov r14, rsi
    mov r15, rbx
    PRINT "INFO after the remap: eax="
    mov rax, r13
    call put_hex
    PRINT " esi="
    mov rax, r14
    call put_hex
    PRINT " ebx="
    mov rax, r15
    call put_hex
    PRINT 10
    ; (a) ESI = 1 and EAX = 0x12345678, or (b) ESI = 0 and EBX != 0
    cmp r14, 1
    jne .not_a
    cmp r13d, 0x12345678
    jmp .judged
.not_a:
    test r14, r14
    jnz .judged                         ; ZF = 0: neither
    test r15, r15
    setnz al
    cmp al, 1
.judged:
    CHECK e, "stale-code-consistent", "esi=", r14
    jmp finish

    EMIT_LIB
    EMIT_EXCEPTIONS64
