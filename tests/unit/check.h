/* tests/unit/check.h: the tiny assertion layer of poolscope's C unit tests.
 * Each CHECK prints one "PASS: name" or "FAIL: name: why" line, which
 * tests/run-tests counts; main returns check_failures() != 0. */
#ifndef POOLSCOPE_CHECK_H
#define POOLSCOPE_CHECK_H
#include <stdio.h>

static int check_failed_count;

#define CHECK(name, cond, ...)                                                   \
	do {                                                                     \
		if (cond) {                                                      \
			printf("PASS: %s\n", name);                              \
		} else {                                                         \
			check_failed_count++;                                    \
			printf("FAIL: %s: ", name);                              \
			printf(__VA_ARGS__);                                     \
			printf(" (%s:%d)\n", __FILE__, __LINE__);                \
		}                                                                \
	} while (0)

static inline int check_failures(void) { return check_failed_count; }
#endif
