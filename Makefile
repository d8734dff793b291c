# poolscope: top-level build.
#
#   make            build BPF objects -> skeletons -> build/poolscope, workloads, unit tests
#   make deps       install missing Debian packages (apt-get update only when needed)
#   make run        deps + build + `poolscope run io-threads`
#   make test       deps + build + every test (root, real BPF); ends "N passed, N failed"
#   make bench      overhead benchmarks (long; not pass/fail)
#   make vmlinux    regenerate vmlinux/<arch>/vmlinux.h from this kernel's BTF
#   make install    binary, workloads, man pages, bash completion into
#                   $(DESTDIR)$(PREFIX) (PREFIX=/usr/local); make uninstall
#   make deb        build/poolscope_VERSION_ARCH.deb (PREFIX /usr)
#   make clean

ARCH      ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BUILD     := build
CLANG     ?= clang
BPFTOOL   ?= bpftool
CC        ?= gcc
VMLINUX_H := vmlinux/$(ARCH)/vmlinux.h

# Debian packages the project needs (build, run, test). `make deps` installs the
# missing ones only.
DEB_PKGS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcurl4-openssl-dev \
            pkg-config make gcc linux-perf libxml2-utils procps python3 \
            qemu-system-x86 busybox-static cpio bpftrace sysbench protobuf-compiler chromium \
            mandoc groff-base bash-completion dpkg-dev libncurses-dev tmux \
            golang-go golang-github-google-pprof-dev \
            libiberty-dev libdebuginfod-dev python3.11-dev debuginfod nodejs g++ \
            openjdk-17-jdk-headless apache2 apache2-utils memcached nginx wrk \
            $(if $(shell command -v rustc),,rustc)

# libcurl: its headers only; --push loads the library when it is used
# (user/sys/push.c), so that every start does not pay for loading it.
PKG_CFLAGS := $(shell pkg-config --cflags libbpf libelf zlib libcurl 2>/dev/null)
# libiberty (the demangler) is a static library without a pkg-config file.
PKG_LIBS   := $(shell pkg-config --libs libbpf libelf zlib 2>/dev/null || echo -lbpf -lelf -lz) -liberty
# ncurses: `poolscope top` (user/cmd/top.c) only
CURSES_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo)

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -fno-omit-frame-pointer
CPPFLAGS  += -I$(BUILD) -Ibpf -Iuser $(PKG_CFLAGS)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Ivmlinux/$(ARCH) -Ibpf \
              -Wall -Wno-unused-function

# The version is written once, in user/cmd/commands.h; the build id (git
# describe) is embedded in build/version.h, rewritten only when it changes.
VERSION   := $(shell sed -n 's/^\#define POOLSCOPE_VERSION "\(.*\)"$$/\1/p' user/cmd/commands.h)

# Where make install puts things: the binary in sbin (it needs root), the
# workloads it runs in libexec (it finds them from its own location).
PREFIX      ?= /usr/local
DESTDIR     ?=
SBINDIR     := $(PREFIX)/sbin
LIBEXECDIR  := $(PREFIX)/libexec/poolscope
MAN8DIR     := $(PREFIX)/share/man/man8
BASHCOMPDIR := $(PREFIX)/share/bash-completion/completions
MANPAGES    := $(wildcard man/*.8)

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

# user/ is laid out by stage (README, Layout). The stages that never touch
# BPF (model, render, sym, sys) make the library the unit tests link: they
# need neither root nor BPF. cmd/, trace/ and main drive BPF.
USER_DIRS     := cmd trace model render sym sys
LIB_DIRS      := model render sym sys
USER_SRCS  := user/main.c $(foreach d,$(USER_DIRS),$(wildcard user/$(d)/*.c))
USER_OBJS  := $(patsubst user/%.c,$(BUILD)/obj/%.o,$(USER_SRCS))
USER_HDRS  := $(foreach d,$(USER_DIRS),$(wildcard user/$(d)/*.h))
LIB_OBJS   := $(patsubst user/%.c,$(BUILD)/obj/%.o,$(foreach d,$(LIB_DIRS),$(wildcard user/$(d)/*.c)))

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))

.PHONY: all deps run test bench vmlinux clean workloads unit install uninstall deb FORCE
# keep BPF objects: they are intermediate files of the skeletons
.SECONDARY:
all: $(BUILD)/poolscope workloads unit

# The workloads build their own programs (workloads/workloads.mk adds to
# WORKLOAD_BINS and the `workloads` target).
WORKLOAD_BINS :=
-include workloads/workloads.mk
-include tests/tests.mk
-include tests/progs/progs.mk
-include tests/kernel/kernel.mk
-include tests/bench/bench.mk
workloads: $(WORKLOAD_BINS)
unit: $(UNIT_BINS)

deps:
	@tools/apt-deps deps $(DEB_PKGS)

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(VMLINUX_H) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: user/%.c $(USER_HDRS) $(wildcard bpf/*.h) $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/version.h: FORCE
	@mkdir -p $(BUILD)
	@printf '#define POOLSCOPE_BUILD_ID "%s"\n' "$$(tools/git-version)" > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/obj/main.o: $(BUILD)/version.h

$(BUILD)/poolscope: $(USER_OBJS)
	$(CC) $(CFLAGS) $^ $(PKG_LIBS) $(CURSES_LIBS) -o $@

$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/check.h tests/unit/fixture.h $(LIB_OBJS) | $(BUILD)/tests/unit
	$(CC) $(CPPFLAGS) $(CFLAGS) $< $(LIB_OBJS) $(PKG_LIBS) -o $@

$(BUILD)/bpf $(BUILD)/tests/unit:
	mkdir -p $@

run: deps
	$(MAKE) all
	$(BUILD)/poolscope run io-threads

test: deps
	$(MAKE) all
	tests/run-tests

bench: deps
	$(MAKE) all bench-tools
	tests/bench/run

install: $(BUILD)/poolscope $(WORKLOAD_BINS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MAN8DIR) \
		$(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BUILD)/poolscope $(DESTDIR)$(SBINDIR)/poolscope
	install -m 0755 $(WORKLOAD_BINS) $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 $(MANPAGES) $(DESTDIR)$(MAN8DIR)/
	install -m 0644 completion/poolscope.bash $(DESTDIR)$(BASHCOMPDIR)/poolscope

# Removes exactly what install put there; the shared directories stay.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/poolscope $(DESTDIR)$(BASHCOMPDIR)/poolscope \
		$(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(notdir $(WORKLOAD_BINS))) \
		$(addprefix $(DESTDIR)$(MAN8DIR)/,$(notdir $(MANPAGES)))
	if [ -d $(DESTDIR)$(LIBEXECDIR) ]; then rmdir --ignore-fail-on-non-empty $(DESTDIR)$(LIBEXECDIR); fi

# The package: make install under /usr into a staging tree, then tools/mkdeb
# (Depends computed by dpkg-shlibdeps from the binaries).
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB      := $(BUILD)/poolscope_$(VERSION)_$(DEB_ARCH).deb
deb: $(DEB)
$(DEB): $(BUILD)/poolscope $(WORKLOAD_BINS) $(MANPAGES) completion/poolscope.bash tools/mkdeb
	rm -rf $(BUILD)/deb
	$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(abspath $(BUILD)/deb/debian/poolscope)
	tools/mkdeb $(BUILD)/deb $(VERSION) $(DEB_ARCH) $@

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_H).tmp && mv $(VMLINUX_H).tmp $(VMLINUX_H)

clean:
	rm -rf $(BUILD)
