/* user/render/pprof.h: stacks as a pprof profile (perftools.profiles.Profile,
 * google/pprof's proto/profile.proto), gzip-compressed, as `go tool pprof`
 * reads it and Pyroscope's ingest API takes it.
 *
 * One profile per stack kind; its samples are the trace's (thread, stack)
 * records, so they carry the thread's labels (pid, tid numeric; comm), and
 * futex samples the lock's (futex address, lock: the program's waiting
 * function, lock_class). Locations are leaf first: kernel frames (mapping
 * "[kernel.kallsyms]" or the module's "[name]"), then user frames (mapping:
 * the mapped file, its address range, file offset and build-id). Sample
 * types, the last being the default:
 *   oncpu   samples/count, cpu/nanoseconds (samples x period; period_type
 *           cpu/nanoseconds, period 1e9/HZ)
 *   offcpu  switches/count (times switched out there), offcpu/nanoseconds
 *   futex   contentions/count (waits), delay/nanoseconds (time waited)
 * The values are the folded export's before its rounding: off-CPU and futex
 * nanoseconds / 1000 summed per folded stack are its microseconds. */
#ifndef POOLSCOPE_PPROF_H
#define POOLSCOPE_PPROF_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "model/model.h"
#include "render/exports.h"

struct pprof_opts {
	uint64_t time_nanos;     /* CLOCK_REALTIME ns of the window's start, 0: unknown */
	const char *comment;     /* what was traced (a profile comment), NULL: none */
};

/* The profile of kind k, gzip-compressed, in *out (malloc'd, the caller
 * frees). 0 or -errno. */
int pprof_build(const struct model *m, enum stack_kind k, const struct pprof_opts *o, uint8_t **out,
		size_t *len);
/* The same written to out. 0 or -errno. */
int export_pprof(FILE *out, const struct model *m, enum stack_kind k, const struct pprof_opts *o);
/* Samples the profile of kind k would have (records with a non-zero value). */
uint32_t pprof_samples(const struct model *m, enum stack_kind k);

#endif
