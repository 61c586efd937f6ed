; edu-midway.asm -- keeps a passed-through QEMU "edu" device's DMA engine busy forever (device
; to RAM, 2 KiB every 100 ms as edu times it), for the test that destroys the VM mid-transfer
; (docs/passthrough.md): the node must leave the device quiet and give it to the next VM.
; Prints "INFO edu-midway transferring" once the first transfer is started, then
; "INFO edu-midway transfers=N" every 10 transfers; never stops by itself.

%include "lib.inc"
%include "pmode.inc"
%include "edu.inc"

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    call edu_find
    cmp eax, EDU_IDS
    je .found
    CHECK e, "edu-found", "ids=", eax
    jmp finish
.found:
    lea eax, [esi + 0x10]
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    and eax, 0xFFFFFFF0
    mov ebx, eax
    lea eax, [esi + 0x04]
    mov dx, 0xCF8
    out dx, eax
    mov eax, 0x0006                     ; memory space, bus master
    mov dx, 0xCFC
    out dx, eax
    xor edi, edi                        ; transfers started
.transfer:
    mov dword [ebx + 0x80], 0x40000     ; from the device's buffer
    mov dword [ebx + 0x84], 0
    mov dword [ebx + 0x88], 0x00200000  ; to its RAM at 2 MiB
    mov dword [ebx + 0x8C], 0
    mov dword [ebx + 0x90], 2048        ; (edu aborts QEMU on a full 4 KiB)
    mov dword [ebx + 0x94], 0
    mov dword [ebx + 0x98], 3           ; start, device to RAM
    inc edi
    cmp edi, 1
    jne .wait
    PRINT "INFO edu-midway transferring", 10
.wait:
    mov eax, [ebx + 0x98]
    test eax, 1
    jz .next
    pause
    jmp .wait
.next:
    mov eax, edi
    xor edx, edx
    mov ecx, 10
    div ecx
    test edx, edx
    jnz .transfer
    PRINT "INFO edu-midway transfers="
    mov eax, edi
    call put_dec
    PRINT 10
    jmp .transfer

    EMIT_EDU
    EMIT_LIB
