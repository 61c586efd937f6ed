; lifecycle-ticker.asm with Bochs's time: its TSC counts 100M per emulated second (ips=),
; with no host noise.
%define INTERVAL 0x800000           ; 8.4M cycles: 84 ms at 100 MHz
%define JUMP     0x4000000          ; 67M cycles: 670 ms
%include "guests/lifecycle/lifecycle-ticker.asm"
