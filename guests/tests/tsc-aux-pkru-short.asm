; tsc-aux-pkru-short.asm -- tsc-aux-pkru.asm with 5,000 rounds, for Bochs (one CPU, 5 ms
; slices): each vCPU still runs some nine slices between the other three's, against ~36.
%define ROUNDS 5000
%include "../tests/tsc-aux-pkru.asm"  ; found through -I guests/include/
