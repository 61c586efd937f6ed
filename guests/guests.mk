# guests.mk -- builds the Peregrine test guests: every guests/**/*.asm becomes a flat binary
# build/guests/**/*.bin (nasm -f bin, org 0x1000; see docs/guest-abi.md and guests/README.md).
# Included by the main Makefile (`include guests/guests.mk`); also usable alone:
#   make -f guests/guests.mk guests
# Including this file does not change the including Makefile's default goal.

NASM ?= nasm

_guests_saved_default_goal := $(.DEFAULT_GOAL)

GUEST_SOURCES  := $(shell find guests -name '*.asm' | sort)
GUEST_BINARIES := $(patsubst guests/%.asm,build/guests/%.bin,$(GUEST_SOURCES))
GUEST_INCLUDES := $(wildcard guests/include/*.inc)

.PHONY: guests
guests: $(GUEST_BINARIES)

build/guests/%.bin: guests/%.asm $(GUEST_INCLUDES)
	@mkdir -p $(dir $@)
	@echo "  NASM    $<"
	@$(NASM) -f bin -w+all -I guests/include/ -o $@ $<

# Give the default goal back: whatever the includer had, or none yet (so that its first
# target still becomes the default) when this file is included before any target.
ifneq ($(_guests_saved_default_goal),)
.DEFAULT_GOAL := $(_guests_saved_default_goal)
else ifneq ($(words $(MAKEFILE_LIST)),1)
.DEFAULT_GOAL :=
endif
