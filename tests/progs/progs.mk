# tests/progs/progs.mk: small programs the integration tests run under
# poolscope (included by the top-level Makefile).
TEST_PROGS := $(patsubst tests/progs/%.c,$(BUILD)/tests/progs/%,$(wildcard tests/progs/*.c))
unit: $(TEST_PROGS)

$(BUILD)/tests/progs/%: tests/progs/%.c | $(BUILD)/tests/progs
	$(CC) -O2 -g -Wall -Wextra -Werror -fno-omit-frame-pointer -pthread $< -o $@

# deepstack calls into a library built without frame pointers, as libcurl is
$(BUILD)/tests/progs/libdeepstack.so: tests/progs/lib/deepstack.c | $(BUILD)/tests/progs
	$(CC) -O2 -g -Wall -Wextra -Werror -fomit-frame-pointer -fPIC -shared $< -o $@

$(BUILD)/tests/progs/deepstack: tests/progs/deepstack.c $(BUILD)/tests/progs/libdeepstack.so | $(BUILD)/tests/progs
	$(CC) -O2 -g -Wall -Wextra -Werror -fno-omit-frame-pointer -pthread $< \
		-L$(BUILD)/tests/progs -ldeepstack -Wl,-rpath,'$$ORIGIN' -o $@

$(BUILD)/tests/progs:
	mkdir -p $@
