; edu-msi.asm -- a passed-through QEMU "edu" device's MSI delivered to the guest's own vector
; (docs/passthrough.md): the node points the device's real MSI at a host vector and, when it
; fires, sends the message the guest wrote into its virtual MSI capability. 32-bit protected
; mode, xAPIC enabled. Raises edu's interrupt 100 times through its raise register (0x60)
; and counts the VM's exits (hypercall 2) per interrupt; then a DMA with "raise on
; completion" (command bit 2); then with MSI disabled in the guest: nothing arrives.
; PASS edu-found, msi-capability, msi-delivered, dma-completion-msi, msi-disabled-none;
; INFO msi interrupts=N exits=E; then DONE and exit code = failures.

%include "lib.inc"
%include "pmode.inc"
%include "edu.inc"
%include "apic.inc"

MSI_VECTOR  equ 0x51
ROUNDS      equ 100
WAIT_SPINS  equ 50000000

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    call load_idt
    mov eax, msi_handler
    mov ecx, MSI_VECTOR
    call set_gate
    mov dword [APIC_SVR], 0x1FF
    PRINT "INFO passthrough edu-msi starting", 10
    call edu_find
    cmp eax, EDU_IDS
    CHECK e, "edu-found", "ids=", eax
    cmp eax, EDU_IDS                    ; (CHECK clobbers the flags)
    jne near finish
    mov eax, 0x10
    call config_read
    and eax, 0xFFFFFFF0
    mov [bar], eax
    mov eax, 0x04
    mov ebx, 0x0006                     ; memory space, bus master
    call config_write

    ; The MSI capability (ID 05) in the list.
    mov eax, 0x34
    call config_read
    and eax, 0xFC
    mov ecx, 48
.cap:
    cmp eax, 0x40
    jb .no_cap
    mov edi, eax
    call config_read
    cmp al, 0x05
    je .cap_found
    shr eax, 8
    and eax, 0xFC
    dec ecx
    jnz .cap
.no_cap:
    xor edi, edi
.cap_found:
    mov [msi_cap], edi
    mov eax, edi
    cmp eax, 0
    CHECK ne, "msi-capability", "offset=", eax
    cmp dword [msi_cap], 0
    je near finish
    ; Address 0xFEE00000 (APIC ID 0, physical), data = the vector, then enable.
    mov eax, [msi_cap]
    add eax, 4
    mov ebx, 0xFEE00000
    call config_write
    mov eax, [msi_cap]
    add eax, 8
    xor ebx, ebx
    call config_write
    mov eax, [msi_cap]
    add eax, 12
    mov ebx, MSI_VECTOR
    call config_write
    mov eax, [msi_cap]
    call config_read
    or eax, 1 << 16                     ; message control bit 0: MSI enable
    mov ebx, eax
    mov eax, [msi_cap]
    call config_write
    sti

    ; ROUNDS interrupts raised through edu's raise register, each waited for.
    call total_exits
    mov [exits_before], eax
    mov ebx, [bar]
    xor esi, esi
.round:
    mov dword [ebx + 0x60], 1
    inc esi
    call wait_for_msi
    jc .rounds_done
    cmp esi, ROUNDS
    jb .round
.rounds_done:
    call total_exits
    sub eax, [exits_before]
    mov [exits_delta], eax
    PRINT "INFO msi interrupts="
    mov eax, [msis]
    call put_dec
    PRINT " exits="
    mov eax, [exits_delta]
    call put_dec
    PRINT 10
    mov eax, [msis]
    cmp eax, ROUNDS
    CHECK e, "msi-delivered", "msis=", eax

    ; A DMA that raises its interrupt on completion (command bit 2).
    mov ebx, [bar]
    mov dword [ebx + 0x80], 0x00100000
    mov dword [ebx + 0x84], 0
    mov dword [ebx + 0x88], 0x40000
    mov dword [ebx + 0x8C], 0
    mov dword [ebx + 0x90], 2048
    mov dword [ebx + 0x94], 0
    inc esi
    mov dword [ebx + 0x98], 1 | 4
    call wait_for_msi
    mov eax, [msis]
    cmp eax, esi
    CHECK e, "dma-completion-msi", "msis=", eax

    ; MSI disabled by the guest: the device's interrupt goes nowhere.
    mov eax, [msi_cap]
    call config_read
    and eax, ~(1 << 16)
    mov ebx, eax
    mov eax, [msi_cap]
    call config_write
    mov ebx, [bar]
    mov dword [ebx + 0x60], 1
    mov ecx, WAIT_SPINS / 10
.quiet:
    pause
    dec ecx
    jnz .quiet
    mov eax, [msis]
    cmp eax, esi
    CHECK e, "msi-disabled-none", "msis=", eax
    cli
    jmp finish

; Waits (bounded) until [msis] reaches ESI; CF set on a timeout.
wait_for_msi:
    push ecx
    mov ecx, WAIT_SPINS
.spin:
    cmp [msis], esi
    jae .arrived
    pause
    dec ecx
    jnz .spin
    pop ecx
    stc
    ret
.arrived:
    pop ecx
    clc
    ret

msi_handler:
    push eax
    push ebx
    inc dword [msis]
    mov ebx, [bar]
    mov eax, [ebx + 0x24]               ; interrupt status
    mov [ebx + 0x64], eax               ; acknowledge
    mov dword [APIC_EOI], 0
    pop ebx
    pop eax
    iretd

[section .data]
bar:            dd 0
msi_cap:        dd 0
msis:           dd 0
exits_before:   dd 0
exits_delta:    dd 0
__?SECT?__

    EMIT_EDU
    EMIT_LIB
    EMIT_IDT_LIB
