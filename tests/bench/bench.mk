# tests/bench/bench.mk: overhead benchmark targets, included by the top Makefile
# (`-include tests/bench/bench.mk`). `make bench` itself is in the top Makefile:
# deps, all, then tests/bench/run, which measures poolscope and the peers side by
# side in one run (10.5-12 min here, longer when the host steals) and installs missing peer packages first.
#
#   make bench-peer-deps   install the peers (libbpf-tools, bpftrace, linux-perf,
#                          bpftool, time) that are missing; nothing else
#   make bench-peers       the peers only (build/bench/results-peers.json/.md)
#   make bench-quick       poolscope and the reference rows, no peers:
#                          build/bench/results.json/.md, README left alone
#
# Knobs (environment): BENCH_ROUNDS, BENCH_PIPE_ROUNDS, BENCH_REPS, BENCH_RATE,
# BENCH_RATE_LOOPS, BENCH_MAX_STEAL, BENCH_PEERS=yes|no|only, BENCH_PIPE_LOOPS,
# BENCH_POOL, BENCH_PIPE_CPUS, BENCH_TRACER_CPUS, BENCH_MAX_FOREIGN, BENCH_RETRIES,
# BENCH_BUDGET_S, BENCH_ONLY=slowdown,stats,startup (see tests/bench/run --help).

.PHONY: bench-peer-deps bench-peers bench-quick bench-tools

# The benchmark's own programs: pingpong (a pipe ping-pong with a set amount of
# work per message, for a chosen switch rate) and floor (empty programs on
# sched_switch and sched_wakeup: the cost of any scheduler tracer here).
BENCH_TOOLS := $(BUILD)/bench/pingpong $(BUILD)/bench/floor $(BUILD)/bench/floor.bpf.o \
	       $(BUILD)/bench/syscalls
bench-tools: $(BENCH_TOOLS)

$(BUILD)/bench/pingpong: tests/bench/pingpong.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

$(BUILD)/bench/syscalls: tests/bench/syscalls.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

$(BUILD)/bench/floor: tests/bench/floor.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

$(BUILD)/bench/floor.bpf.o: tests/bench/floor.bpf.c $(VMLINUX_H)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

bench-peer-deps:
	tests/bench/peer-deps

bench-peers: deps bench-peer-deps
	$(MAKE) workloads bench-tools
	tests/bench/run --peers only

bench-quick: deps
	$(MAKE) all bench-tools
	tests/bench/run --peers no --no-readme
