"""tests/bench/pypool.py: the Python pool of `make bench`'s Python rows: a
ThreadPool of 4 workers running many small tasks of `crunch` (GIL hand-offs,
queue waits and wakes between the threads: Python stacks at every switch
and futex wait), then the same in a 2-process multiprocessing.Pool. Prints
`wall_s=S` (the work, not the interpreter's start) and the switches of its
threads are what poolscope's Python frames cost on.

Usage: python3 tests/bench/pypool.py [TASKS] [N]   (defaults 4000 2000)"""
import multiprocessing
import sys
import time
from multiprocessing.pool import ThreadPool


def crunch(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    time.sleep(0.1)   # a tracer has seen the interpreter before the work
    t0 = time.monotonic()
    with ThreadPool(4) as pool:
        pool.map(crunch, [n] * tasks, chunksize=1)
    with multiprocessing.Pool(2) as pool:
        pool.map(crunch, [n] * (tasks // 4), chunksize=1)
    print("wall_s=%.6f tasks=%d" % (time.monotonic() - t0, tasks + tasks // 4), flush=True)


if __name__ == "__main__":
    main()
