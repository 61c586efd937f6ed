; os-noise.asm -- the OS-noise benchmark guest, a selfish-detour loop.
;
; In 64-bit long mode with interrupts disabled, reads the TSC in a tight loop for SPAN
; cycles. Every gap between two consecutive reads longer than THRESHOLD cycles is a detour:
; time the guest did not run (under Peregrine: exits it did not ask for, the host's timer,
; another vCPU's turn). The loop itself takes no exit, so the detours are all the
; hypervisor's (or, run bare, the emulator's). Counts each detour in a histogram by powers
; of two of its length, and prints:
;   NOISE span <cycles measured> threshold <THRESHOLD> iterations <n> min-gap <cycles>
;   NOISE detours <n> lost <cycles in detours> max <longest detour>
;   NOISE bucket <2^k> <detours of 2^k .. 2^(k+1)-1 cycles> <their cycles>   (non-empty only)
;   NOISE done
; then stops (hypercall 3; bare, the #UD handler lets `stop` fall back to the debug-exit
; port 0xF4). The same binary runs bare under QEMU behind the boot sector in
; scripts/bench/noise-boot-sector.asm, which loads it at 0x1000 in real mode as Peregrine does.
; Cycles are guest TSC cycles: emulated instructions under `qemu -icount shift=0`.

%include "lib.inc"
%include "pmode.inc"
%include "lmode.inc"
%include "exceptions.inc"

SPAN      equ 100000000         ; 1e8 cycles measured
THRESHOLD equ 100               ; a gap above this is a detour (the loop's own gap is ~7)

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
    ENTER_LONG_MODE
main:
    SETUP_IDT64
    call detect_vendor
    PRINT "INFO bench os-noise: selfish detour, RDTSC loop, interrupts disabled", 10
    cli
    xor r9d, r9d                ; detours
    xor r10d, r10d              ; cycles lost in detours
    xor r11d, r11d              ; longest detour
    xor r12d, r12d              ; iterations
    mov r13, -1                 ; shortest gap
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov r14, rax                ; start
    lea r15, [rax + SPAN]       ; end
    mov r8, rax                 ; previous read
.loop:
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov rcx, rax
    sub rcx, r8                 ; the gap since the previous read
    mov r8, rax
    inc r12
    cmp rcx, r13
    cmovb r13, rcx
    cmp rcx, THRESHOLD
    ja .detour
.next:
    cmp rax, r15
    jb .loop
    jmp .report
.detour:
    inc r9
    add r10, rcx
    cmp rcx, r11
    cmova r11, rcx
    bsr rbx, rcx                ; the histogram bucket: floor(log2(gap))
    inc qword [histogram_count + rbx * 8]
    add [histogram_cycles + rbx * 8], rcx
    jmp .next

.report:
    sub r8, r14                 ; the span actually measured
    PRINT "NOISE span "
    mov rax, r8
    call put_dec
    PRINT " threshold "
    mov eax, THRESHOLD
    call put_dec
    PRINT " iterations "
    mov rax, r12
    call put_dec
    PRINT " min-gap "
    mov rax, r13
    call put_dec
    PRINT 10, "NOISE detours "
    mov rax, r9
    call put_dec
    PRINT " lost "
    mov rax, r10
    call put_dec
    PRINT " max "
    mov rax, r11
    call put_dec
    PRINT 10
    xor ebx, ebx                ; bucket index
.bucket:
    mov rax, [histogram_count + rbx * 8]
    test rax, rax
    jz .empty
    PRINT "NOISE bucket "
    mov eax, 1
    mov ecx, ebx
    shl rax, cl
    call put_dec
    PRINT " "
    mov rax, [histogram_count + rbx * 8]
    call put_dec
    PRINT " "
    mov rax, [histogram_cycles + rbx * 8]
    call put_dec
    PRINT 10
.empty:
    inc ebx
    cmp ebx, 64
    jb .bucket
    PRINT "NOISE done", 10
    xor ebx, ebx
    jmp stop

    EMIT_LIB
    EMIT_EXCEPTIONS64

[section .data]
    align 8
histogram_count:  times 64 dq 0
histogram_cycles: times 64 dq 0
