; lifecycle-ticker.asm with Bochs's time: its TSC counts 100M per emulated second (ips=),
; with no host noise. Ticks 42 ms apart (12 ticks: half an emulated second of spinning, the
; bulk of a Bochs pause case's time); a 1 s pause (cases_lifecycle.py) that showed in the
; TSC passes a deadline by at least 1000 - 42 ms, well over JUMP.
%define INTERVAL 0x400000           ; 4.2M cycles: 42 ms at 100 MHz
%define JUMP     0x4000000          ; 67M cycles: 670 ms
%include "guests/lifecycle/lifecycle-ticker.asm"
