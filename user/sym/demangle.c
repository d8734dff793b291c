/* user/sym/demangle.c: libiberty's demangler (see demangle.h).
 *
 * The callback entry points, not cplus_demangle(): those allocate through
 * libiberty's xmalloc family, whose names collide with poolscope's own
 * xcalloc/xstrdup (sys/util.h); these write through a callback and
 * allocate nothing themselves. */
#include "sym/demangle.h"
#include <libiberty/demangle.h>
#include <stdlib.h>
#include <string.h>

/* A demangled C++ name of a deep template can run to kilobytes: kept, but
 * not without bound. */
#define DEMANGLED_MAX (16u << 10)

struct out_buf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void append(const char *piece, size_t n, void *opaque)
{
	struct out_buf *b = opaque;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		char *s;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > DEMANGLED_MAX || !(s = realloc(b->s, cap))) {
			b->failed = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, piece, n);
	b->len += n;
	b->s[b->len] = '\0';
}

bool sym_is_mangled(const char *name)
{
	return name && name[0] == '_' && (name[1] == 'Z' || name[1] == 'R');
}

char *sym_demangle(const char *name)
{
	const int opts = DMGL_PARAMS | DMGL_ANSI;
	struct out_buf b = { 0 };

	if (!sym_is_mangled(name))
		return NULL;
	/* Rust first: a legacy Rust name is also valid C++ ("_ZN...17h<hash>E"),
	 * and only the Rust demangler drops the hash */
	if (!rust_demangle_callback(name, opts, append, &b) || b.failed) {
		free(b.s);
		b = (struct out_buf){ 0 };
		if (!cplus_demangle_v3_callback(name, opts, append, &b) || b.failed) {
			free(b.s);
			return NULL;
		}
	}
	return b.s;
}
