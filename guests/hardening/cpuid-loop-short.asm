; cpuid-loop-short.asm -- cpuid-loop.asm with 1,000 CPUIDs, for the Bochs exit-trace case
; (trace-short.iso), which records only the first 64 exits: the other 149,000 CPUIDs of
; cpuid-loop.asm cost about 5.6 s of emulated time there and are in no trace.
%define CPUID_LOOPS 1000
%include "../hardening/cpuid-loop.asm"  ; found through -I guests/include/
