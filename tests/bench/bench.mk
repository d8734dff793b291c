# tests/bench/bench.mk: overhead benchmark targets, included by the top Makefile
# (`-include tests/bench/bench.mk`). `make bench` itself is in the top Makefile:
# deps, all, then tests/bench/run, which measures poolscope and the peers side by
# side in one run (~10-15 min) and installs missing peer packages first.
#
#   make bench-peer-deps   install the peers (libbpf-tools, bpftrace, linux-perf,
#                          bpftool, time) that are missing; nothing else
#   make bench-peers       the peers only (build/bench/results-peers.json/.md)
#   make bench-quick       poolscope only, 5 rounds, no peers (~4 min):
#                          build/bench/results.json/.md, README left alone
#
# Knobs (environment): BENCH_ROUNDS, BENCH_PEERS=yes|no|only, BENCH_PIPE_LOOPS,
# BENCH_POOL, BENCH_PIPE_CPUS, BENCH_TRACER_CPUS, BENCH_MAX_FOREIGN, BENCH_RETRIES,
# BENCH_BUDGET_S, BENCH_ONLY=slowdown,stats,startup (see tests/bench/run --help).

.PHONY: bench-peer-deps bench-peers bench-quick

bench-peer-deps:
	tests/bench/peer-deps

bench-peers: deps bench-peer-deps
	$(MAKE) workloads
	tests/bench/run --peers only

bench-quick: deps
	$(MAKE) all
	tests/bench/run --peers no --no-readme
