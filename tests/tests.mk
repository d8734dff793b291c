# tests/tests.mk: test fixtures, included by the top Makefile.
#
# The symbolizer tests run these programs and resolve the addresses they print:
#   fixture_pie        PIE executable, linked with libfixture.so
#   fixture_nopie      -no-pie executable, -gz debug info and a zlib-compressed
#                      .symtab/.strtab, linked with libfixture.so
#   fixture_stripped   stripped PIE whose symbols live in fixture_stripped.debug
#                      (.gnu_debuglink), linked with libfixture_stripped.so,
#                      which keeps only .dynsym
#   fixture_cpp        C++ (g++): a class's static function, a template, a
#                      std::mutex in a namespace, for demangling
#   fixture_rust_legacy, fixture_rust_v0
#                      one Rust function, mangled both ways (rustc, no crates)
#   cpython_layout-X.Y where the GIL is in _PyRuntime, compiled against each
#                      CPython's internal headers in CPYTHON_INCLUDES
#                      (Debian's python3.11-dev by default)
# All -O0 -fno-omit-frame-pointer, so every function is a real frame.

FIXTURE_SRC    := tests/unit/fixtures
FIXTURE_DIR    := $(BUILD)/tests/fixtures
FIXTURE_CFLAGS := -O0 -g -fno-omit-frame-pointer -Wall -Wextra -Werror
FIXTURE_RPATH  := -Wl,-rpath,'$$ORIGIN'
RUSTC          ?= rustc
CXX            ?= g++
CPYTHON_INCLUDES ?= $(wildcard /usr/include/python3.1[1-9])
CPYTHON_LAYOUTS := $(foreach d,$(CPYTHON_INCLUDES),$(FIXTURE_DIR)/cpython_layout-$(notdir $(d)))
FIXTURES := $(addprefix $(FIXTURE_DIR)/,fixture_pie fixture_nopie fixture_stripped \
            fixture_stripped.debug libfixture.so libfixture_stripped.so fixture_cpp \
            fixture_rust_legacy fixture_rust_v0) $(CPYTHON_LAYOUTS)

.PHONY: fixtures
fixtures: $(FIXTURES)
unit: fixtures
# Order-only: the test finds the fixtures at run time, it does not link them.
$(BUILD)/tests/unit/test_symbolize $(BUILD)/tests/unit/test_names: | $(FIXTURES)

$(FIXTURE_DIR):
	mkdir -p $@

$(FIXTURE_DIR)/compress_symtab: $(FIXTURE_SRC)/compress_symtab.c | $(FIXTURE_DIR)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror $< -lelf -o $@

$(FIXTURE_DIR)/libfixture.so: $(FIXTURE_SRC)/fixture_lib.c | $(FIXTURE_DIR)
	$(CC) $(FIXTURE_CFLAGS) -fPIC -shared -Wl,-soname,libfixture.so $< -o $@

$(FIXTURE_DIR)/libfixture_stripped.so: $(FIXTURE_SRC)/fixture_lib.c | $(FIXTURE_DIR)
	$(CC) $(FIXTURE_CFLAGS) -fPIC -shared -Wl,-soname,libfixture_stripped.so $< -o $@.tmp
	strip --strip-all $@.tmp && mv $@.tmp $@

$(FIXTURE_DIR)/fixture_pie: $(FIXTURE_SRC)/fixture_main.c $(FIXTURE_DIR)/libfixture.so
	$(CC) $(FIXTURE_CFLAGS) -DFIXTURE_FN=pie_static_fn -fPIE -pie $< \
		-L$(FIXTURE_DIR) -lfixture $(FIXTURE_RPATH) -o $@

$(FIXTURE_DIR)/fixture_nopie: $(FIXTURE_SRC)/fixture_main.c $(FIXTURE_DIR)/libfixture.so \
		$(FIXTURE_DIR)/compress_symtab
	$(CC) $(FIXTURE_CFLAGS) -gz -DFIXTURE_FN=nopie_static_fn -fno-pie -no-pie $< \
		-L$(FIXTURE_DIR) -lfixture $(FIXTURE_RPATH) -o $@.tmp
	$(FIXTURE_DIR)/compress_symtab $@.tmp && mv $@.tmp $@

# One recipe makes both: the stripped binary names its debug file.
$(FIXTURE_DIR)/fixture_stripped $(FIXTURE_DIR)/fixture_stripped.debug &: \
		$(FIXTURE_SRC)/fixture_main.c $(FIXTURE_DIR)/libfixture_stripped.so
	$(CC) $(FIXTURE_CFLAGS) -DFIXTURE_FN=stripped_static_fn -fPIE -pie $< \
		-L$(FIXTURE_DIR) -lfixture_stripped $(FIXTURE_RPATH) -o $(FIXTURE_DIR)/fixture_stripped.full
	cd $(FIXTURE_DIR) && objcopy --only-keep-debug fixture_stripped.full fixture_stripped.debug && \
		objcopy --strip-all --add-gnu-debuglink=fixture_stripped.debug \
			fixture_stripped.full fixture_stripped && rm -f fixture_stripped.full

$(FIXTURE_DIR)/fixture_cpp: $(FIXTURE_SRC)/fixture_cpp.cpp | $(FIXTURE_DIR)
	$(CXX) -O0 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -fPIE -pie $< -o $@

# Stable rustc mangles the legacy way unless told v0. MAKEFLAGS cleared: rustc
# would try make's jobserver and warn.
RUST_FLAGS := -C opt-level=0 -C force-frame-pointers=yes
$(FIXTURE_DIR)/fixture_rust_legacy: $(FIXTURE_SRC)/fixture_rust.rs | $(FIXTURE_DIR)
	MAKEFLAGS= $(RUSTC) $(RUST_FLAGS) $< -o $@
$(FIXTURE_DIR)/fixture_rust_v0: $(FIXTURE_SRC)/fixture_rust.rs | $(FIXTURE_DIR)
	MAKEFLAGS= $(RUSTC) $(RUST_FLAGS) -C symbol-mangling-version=v0 $< -o $@

# python3.X-dev's internal headers need Py_BUILD_CORE (set in the source)
$(FIXTURE_DIR)/cpython_layout-%: $(FIXTURE_SRC)/cpython_layout.c | $(FIXTURE_DIR)
	$(CC) -O0 -Wall -Wextra -Werror -I$(filter %/$*,$(CPYTHON_INCLUDES)) $< -o $@
