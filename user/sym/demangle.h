/* user/sym/demangle.h: C++ and Rust symbol names as their programmers wrote
 * them, through libiberty's demangler (the one binutils and gdb use):
 * Itanium C++ ("_Z..."), Rust legacy ("_ZN...17h<hash>E", the hash dropped)
 * and Rust v0 ("_R..."). */
#ifndef POOLSCOPE_DEMANGLE_H
#define POOLSCOPE_DEMANGLE_H
#include <stdbool.h>

/* Whether name looks mangled (cheap: the demangler runs only on these). */
bool sym_is_mangled(const char *name);
/* The demangled name (malloc'd, the caller frees it), with parameter
 * types for C++; NULL when name is not a mangled name. */
char *sym_demangle(const char *name);

#endif
