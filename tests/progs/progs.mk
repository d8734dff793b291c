# tests/progs/progs.mk: small programs the integration tests run under
# poolscope (included by the top-level Makefile).
TEST_PROGS := $(patsubst tests/progs/%.c,$(BUILD)/tests/progs/%,$(wildcard tests/progs/*.c))
unit: $(TEST_PROGS)

$(BUILD)/tests/progs/%: tests/progs/%.c | $(BUILD)/tests/progs
	$(CC) -O2 -g -Wall -Wextra -Werror -fno-omit-frame-pointer -pthread $< -o $@

$(BUILD)/tests/progs:
	mkdir -p $@
