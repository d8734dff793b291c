# tests/kernel/kernel.mk: boot Debian 12's stock 6.1 kernel under QEMU (TCG) and
# run poolscope there (included by the top-level Makefile, which runs from the
# repo top with BUILD = build).
#
#   make kernel-deps   install the missing packages this needs (qemu, busybox, cpio)
#   make kernel-test   static poolscope + workloads + truth -> initramfs -> boot
#                      the 6.1 kernel -> smoke suite inside; prints PASS:/FAIL:
#                      lines, exits non-zero on any FAIL
#   make kernel-soak   boot the guest KT_BOOTS times (30), each running the suite
#                      and KT_ROUNDS (3) rounds of the risky mixes; prints
#                      "hangs: H of N boots" and every hang's backtraces (not
#                      part of `make test`; 2-4 min per boot on 2 cores)
#   make kernel-dbg    fetch linux-image-...-dbg once and keep only its vmlinux
#                      (build/kernel/vmlinux-VERSION, 630 MB) for the gdb
#                      capture's backtraces (tests/kernel/README.md)
#   make kernel-clean  forget the built guest files (keeps the cached kernel)
#
# The kernel package (linux-image-6.1.0-N-amd64, the one Debian 12's
# linux-image-amd64 depends on, or KERNEL_PKG=...) is fetched once with
# `apt-get download` and cached with its vmlinuz under build/kernel/; delete
# build/kernel/vmlinuz to fetch the current one again. Nothing is installed
# into /boot.
#
# Until the top Makefile includes this file:
#   make -f Makefile -f tests/kernel/kernel.mk kernel-test

ifndef POOLSCOPE_KERNEL_MK
POOLSCOPE_KERNEL_MK := 1

BUILD ?= build
KT_DIR       := $(BUILD)/kernel
KT_PKGS      := qemu-system-x86 busybox-static cpio
KT_TIMEOUT   ?= 240
KT_BOOTS     ?= 30
KT_ROUNDS    ?= 3
KERNEL_PKG   ?=
# more kernel arguments for the guest, e.g. KT_APPEND="KT_MULT=10 KT_SIZE=20M"
KT_APPEND    ?=
# Static binaries: the same sources and flags as the main build, plus -static.
KT_LIBS      := $(shell pkg-config --static --libs libbpf libelf zlib 2>/dev/null || echo -lbpf -lelf -lz) -liberty -lm \
                $(shell pkg-config --static --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo)
KT_USER_OBJS := $(patsubst user/%.c,$(KT_DIR)/obj/%.o,$(USER_SRCS))
KT_WORKLOADS := cpu-threads gil-threads cpu-procs

.PHONY: kernel-deps kernel-test kernel-soak kernel-dbg kernel-clean kernel-bins

kernel-deps:
	@tools/apt-deps kernel-deps $(KT_PKGS)

# The objects need the skeleton header the main build generates. It is named
# explicitly so that make regenerates it when it is missing (without
# .SECONDARY, make deletes it as an intermediate file after linking);
# depending on the main binary keeps the two builds in step.
# No libcurl in a static binary (its static dependencies are not all
# packaged): the guest's poolscope refuses --push.
$(KT_DIR)/obj/%.o: user/%.c $(USER_HDRS) $(wildcard bpf/*.h) $(BUILD)/poolscope
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DPS_NO_CURL -c $< -o $@
$(KT_USER_OBJS): $(BUILD)/poolscope.skel.h
# no dlopen in a static binary: no debuginfod client (user/sym/debuginfod.c)
$(KT_USER_OBJS): CPPFLAGS += -DPOOLSCOPE_STATIC

$(KT_DIR)/poolscope: $(KT_USER_OBJS)
	$(CC) $(CFLAGS) -static $^ $(KT_LIBS) -o $@

# Workloads: link the objects of the main build (workloads/workloads.mk)
# statically; they need only pthread. The dynamic program is the prerequisite
# (it is relinked whenever an object changes); the object list is expanded in
# the recipe, so the order of the includes does not matter.
$(KT_DIR)/workloads/%: $(BUILD)/workloads/% | $(KT_DIR)/workloads
	$(CC) $(WL_CFLAGS) -static $(BUILD)/workloads/obj/$*.o $(WL_CPU_OBJS) -pthread -o $@

$(KT_DIR)/progs/truth: tests/progs/truth.c | $(KT_DIR)/progs
	$(CC) -O2 -g -Wall -Wextra -Werror -fno-omit-frame-pointer -pthread -static $< -o $@

# The guest's tree (assembled by mkinitramfs.sh): /poolscope/poolscope finds
# its workloads in /poolscope/workloads, beside the binary as in the build tree.
KT_FILES := $(KT_DIR)/poolscope $(addprefix $(KT_DIR)/workloads/,$(KT_WORKLOADS)) $(KT_DIR)/progs/truth

kernel-bins: $(KT_FILES)

$(KT_DIR)/initramfs.cpio.gz: $(KT_FILES) tests/kernel/init tests/kernel/mkinitramfs.sh | kernel-deps
	bash tests/kernel/mkinitramfs.sh $@ tests/kernel/init $(KT_FILES)

# Fetched once (the .deb and vmlinuz stay in build/kernel/); delete
# build/kernel/vmlinuz to fetch the current kernel again.
$(KT_DIR)/vmlinuz: | kernel-deps $(KT_DIR)
	bash tests/kernel/fetch-kernel.sh $(KT_DIR) $(KERNEL_PKG)

kernel-test: $(KT_DIR)/initramfs.cpio.gz $(KT_DIR)/vmlinuz
	bash tests/kernel/run-vm.sh --timeout $(KT_TIMEOUT) --kernel $(KT_DIR)/vmlinuz \
		--initrd $(KT_DIR)/initramfs.cpio.gz --out $(KT_DIR)/run --append "$(KT_APPEND)"

kernel-soak: $(KT_DIR)/initramfs.cpio.gz $(KT_DIR)/vmlinuz
	bash tests/kernel/soak.sh --boots $(KT_BOOTS) --rounds $(KT_ROUNDS) --kernel $(KT_DIR)/vmlinuz \
		--initrd $(KT_DIR)/initramfs.cpio.gz --out $(KT_DIR)/soak --append "$(KT_APPEND)"

# The debug vmlinux of the cached kernel: downloaded once (~860 MB .deb),
# only the vmlinux is kept.
kernel-dbg: $(KT_DIR)/vmlinuz
	bash tests/kernel/fetch-dbg.sh $(KT_DIR)

kernel-clean:
	rm -rf $(KT_DIR)/obj $(KT_DIR)/workloads $(KT_DIR)/progs $(KT_DIR)/run \
		$(KT_DIR)/poolscope $(KT_DIR)/initramfs.cpio.gz

$(KT_DIR) $(KT_DIR)/obj $(KT_DIR)/workloads $(KT_DIR)/progs:
	mkdir -p $@

endif
