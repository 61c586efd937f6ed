; mmio-chunk-cost.asm -- hardening measurement: what one worst-case exit of the bounded
; string emulation costs the guest (docs/hardening.md), by the method of
; guests/bench/exit-cost.asm: a loop of N calls timed with RDTSC, minus the same loop with
; the operation done in RAM (no exit); minimum of 3 runs. Under qemu -icount shift=0 the
; guest TSC counts emulated instructions.
;   BENCH mmio-store-1      MOV [device+0x100], AL: one exit, one device write
;   BENCH mmio-rep-64       REP STOSB, RCX = 64, to device+0x100: one exit, one maximal
;                           chunk (64 device writes); baseline: the same REP STOSB to RAM
;   BENCH mmio-rep-4096     REP STOSB, RCX = 4096, to device+0: 64 exits, the whole page
;   BENCH insb-rep-64       REP INSB, RCX = 64, from port 0x80 (no device): one exit, one
;                           maximal chunk; baseline: REP STOSB of 64 bytes to RAM
;   BENCH outsb-rep-64      REP OUTSB, RCX = 64, to port 0x80; same baseline
; then "BENCH done" and exit code 0. Nothing is checked: numbers only.

%include "lib.inc"
%include "pmode.inc"
%include "lmode.inc"
%include "exceptions.inc"

N    equ 100
RUNS equ 3
RAM_BUFFER equ 0x40000

%include "bench.inc"

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
    ENTER_LONG_MODE
main:
    SETUP_IDT64
    call detect_vendor
    cld
    PRINT "INFO bench mmio-chunk-cost N=100, minimum of 3 runs, guest TSC cycles", 10
    BENCH_OP "mmio-store-1", op_store_1, base_store_1
    BENCH_OP "mmio-rep-64", op_rep_64, base_rep_64
    BENCH_OP "mmio-rep-4096", op_rep_4096, base_rep_4096
    BENCH_OP "insb-rep-64", op_insb_64, base_rep_64
    BENCH_OP "outsb-rep-64", op_outsb_64, base_rep_64
    PRINT "BENCH done", 10
    xor ebx, ebx
    jmp stop

; ---- the operations: may clobber RAX, RBX, RCX, RDX, RDI; must keep RSI, RBP, R8-R15
op_store_1:
    mov edi, MMIO_BASE + 0x100
    mov [rdi], al
    ret
base_store_1:
    mov edi, RAM_BUFFER
    mov [rdi], al
    ret

op_rep_64:
    mov edi, MMIO_BASE + 0x100
    mov ecx, 64
    rep stosb
    ret
base_rep_64:
    mov edi, RAM_BUFFER
    mov ecx, 64
    rep stosb
    ret

op_rep_4096:
    mov edi, MMIO_BASE
    mov ecx, 4096
    rep stosb
    ret
base_rep_4096:
    mov edi, RAM_BUFFER
    mov ecx, 4096
    rep stosb
    ret

op_insb_64:
    mov edi, RAM_BUFFER
    mov ecx, 64
    mov dx, 0x80
    rep insb
    ret

op_outsb_64:
    push rsi
    mov esi, RAM_BUFFER
    mov ecx, 64
    mov dx, 0x80
    rep outsb
    pop rsi
    ret

    EMIT_BENCH_LIB

    EMIT_LIB
    EMIT_EXCEPTIONS64

