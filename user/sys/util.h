/* user/util.h: small shared helpers: error lines, clocks, number parsing and
 * human-readable formatting. */
#ifndef POOLSCOPE_UTIL_H
#define POOLSCOPE_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* "poolscope: <message>" on stderr, one line. */
void ps_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ps_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ps_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC in ns: the clock bpf_ktime_get_ns() reads. */
uint64_t mono_ns(void);
/* CLOCK_REALTIME in ns (wall-clock time since the epoch). */
uint64_t realtime_ns(void);
/* When poolscope started (main() marks it), for the setup time it reports. */
void ps_mark_start(void);
uint64_t ps_started_ns(void);

/* Parse a whole decimal number in [min, max]; 0 or -EINVAL / -ERANGE. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parse seconds with optional fraction ("2", "0.5") into ns; 0 or -EINVAL. */
int parse_seconds_ns(const char *s, uint64_t *out);

/* "1.23 s", "45.6 ms", "12 us", "830 ns": three significant digits. */
const char *fmt_dur(uint64_t ns, char *buf, size_t len);
/* "1,234,567" */
const char *fmt_count(uint64_t n, char *buf, size_t len);

/* Fatal allocation failure: the one place poolscope exits from a helper. */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
/* qsort/bsearch order of uint32_t values */
int cmp_u32(const void *a, const void *b);

#endif
