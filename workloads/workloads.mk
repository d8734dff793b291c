# workloads/workloads.mk: the bundled workloads, included by the top-level Makefile
# (which runs from the repo top, with BUILD = build). Appends the programs to
# WORKLOAD_BINS; each is one small main file linked with the shared harness and pool
# objects, plus the squares task (cpu-*) or the curl fetcher and httpd-sim (io-*).
# Own flag variables: nothing here changes CFLAGS/CPPFLAGS of the rest of the build.

WL_BUILD   := $(BUILD)/workloads
WL_CFLAGS  := -O2 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE
WL_LDLIBS  := -pthread
WL_CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
WL_CURL_LIBS   := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

WL_CPU_PROGS := cpu-procs cpu-threads gil-threads oversubscribed
WL_IO_PROGS  := io-threads io-procs

WL_COMMON_OBJS := $(addprefix $(WL_BUILD)/obj/,harness.o pool.o threadpool.o procpool.o)
WL_CPU_OBJS    := $(WL_COMMON_OBJS) $(WL_BUILD)/obj/squares.o
WL_IO_OBJS     := $(WL_COMMON_OBJS) $(WL_BUILD)/obj/fetch.o $(WL_BUILD)/obj/httpd_sim.o

WORKLOAD_BINS += $(addprefix $(WL_BUILD)/,$(WL_CPU_PROGS) $(WL_IO_PROGS))

$(WL_BUILD)/obj/%.o: workloads/%.c $(wildcard workloads/*.h) workloads/workloads.mk | $(WL_BUILD)/obj
	$(CC) $(WL_CFLAGS) $(WL_OBJ_CFLAGS) -c $< -o $@

$(WL_BUILD)/obj/fetch.o: WL_OBJ_CFLAGS := $(WL_CURL_CFLAGS)

$(addprefix $(WL_BUILD)/,$(WL_CPU_PROGS)): $(WL_BUILD)/%: $(WL_BUILD)/obj/%.o $(WL_CPU_OBJS)
	$(CC) $(WL_CFLAGS) $^ $(WL_LDLIBS) -o $@

$(addprefix $(WL_BUILD)/,$(WL_IO_PROGS)): $(WL_BUILD)/%: $(WL_BUILD)/obj/%.o $(WL_IO_OBJS)
	$(CC) $(WL_CFLAGS) $^ $(WL_CURL_LIBS) $(WL_LDLIBS) -o $@

$(WL_BUILD)/obj:
	mkdir -p $@
