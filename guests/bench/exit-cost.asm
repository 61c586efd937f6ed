; exit-cost.asm -- the exit-cost benchmark guest.
;
; In 64-bit long mode, measures the round-trip cost of the VM exits an HPC guest meets.
; For each operation, a loop of N = 1000 calls to a small routine doing the operation is
; timed with RDTSC, and so is the same loop calling a routine without the exiting
; instruction (the baseline); each is run 3 times (after a warm-up call) and the minimum
; kept. Between runs the guest spins without exits for as long as the run took, so that the
; benchmark never looks like an exit storm to the hypervisor.
; Prints, for each operation:
;   BENCH <name> <cycles per operation>     (min_with - min_without) / N, 0 if negative
;   BENCH <name>-loop <cycles per iteration of the baseline loop>    min_without / N
; with <name>:
;   cpuid       CPUID leaf 0
;   hypercall   hypercall 0 (identify), VMMCALL/VMCALL chosen by vendor
;   io-out      OUT 0x80, AL (unknown port: the write is ignored)
;   io-in       IN AL, 0x80  (unknown port: reads 0xFF)
;   rdmsr-tsc   RDMSR 0x10
;   mmio-read   a 32-bit read of the MMIO test device (0xFED00000)
; then "BENCH done" and stops with hypercall 3, exit code 0. Cycles are guest TSC cycles.
; Expected under Peregrine: all lines present, exit code 0 (nothing is checked: numbers only).

%include "lib.inc"
%include "pmode.inc"
%include "lmode.inc"
%include "exceptions.inc"

N    equ 1000
RUNS equ 3
%include "bench.inc"


    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
    ENTER_LONG_MODE
main:
    SETUP_IDT64
    call detect_vendor
    PRINT "INFO bench exit-cost N=1000, minimum of 3 runs, guest TSC cycles", 10

    BENCH_OP "cpuid", op_cpuid, base_cpuid
    BENCH_OP "hypercall", op_hypercall, base_hypercall
    BENCH_OP "io-out", op_io_out, base_ret
    BENCH_OP "io-in", op_io_in, base_ret
    BENCH_OP "rdmsr-tsc", op_rdmsr, base_rdmsr
    BENCH_OP "mmio-read", op_mmio, base_mmio

    PRINT "BENCH done", 10
    xor ebx, ebx
    jmp stop

; ---- the operations: each may clobber RAX, RBX, RCX, RDX, RDI; must keep RSI, RBP, R8-R15
op_cpuid:
    xor eax, eax
    xor ecx, ecx
    cpuid
    ret
base_cpuid:
    xor eax, eax
    xor ecx, ecx
    ret

op_hypercall:
    xor eax, eax                ; identify
    call hypercall
    ret
base_hypercall:
    xor eax, eax
    call hypercall_stand_in
    ret
; the same dispatch as `hypercall`, with 3-byte NOPs instead of VMMCALL/VMCALL
hypercall_stand_in:
    cmp byte [hv_is_intel], 0
    jne .intel
    db 0x0F, 0x1F, 0x00         ; 3-byte NOP
    ret
.intel:
    db 0x0F, 0x1F, 0x00         ; 3-byte NOP
    ret

op_io_out:
    out 0x80, al
    ret
op_io_in:
    in al, 0x80
    ret
base_ret:
    ret

op_rdmsr:
    mov ecx, MSR_TSC
    rdmsr
    ret
base_rdmsr:
    mov ecx, MSR_TSC
    ret

op_mmio:
    mov edi, MMIO_BASE
    mov eax, [rdi]
    ret
base_mmio:
    mov edi, MMIO_BASE
    ret

    EMIT_BENCH_LIB

    EMIT_LIB
    EMIT_EXCEPTIONS64

