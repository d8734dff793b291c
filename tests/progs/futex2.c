// SPDX-License-Identifier: GPL-2.0
/*
 * futex2: a waiter and a waker on the futex2 syscalls (Linux 6.7+:
 * futex_wait 455, futex_wake 454; futex_waitv 449 since 5.16), which glibc
 * does not use yet, so poolscope's tests call them directly.
 *
 *   futex2 [N]   N rounds (default 10): the waiter blocks on a word, first in
 *                futex_wait, then (odd rounds) in futex_waitv; the waker
 *                sleeps 20 ms, bumps the word and calls futex_wake
 *
 * Prints "uaddr=0x... rounds=N". Exit 3 when the kernel lacks the syscalls.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NR_futex_waitv 449
#define NR_futex_wake 454
#define NR_futex_wait 455
#define FUTEX2_SIZE_U32 0x02
#define FUTEX2_PRIVATE 128
#define FUTEX_BITSET_MATCH_ANY 0xffffffffu

struct waitv {          /* struct futex_waitv */
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

static _Alignas(64) volatile uint32_t word;
static volatile uint32_t done_rounds;
static int rounds = 10;

static long wait_on(uint32_t expect, int round)
{
	if (round & 1) {
		struct waitv w = { .val = expect, .uaddr = (uintptr_t)&word,
				   .flags = FUTEX2_SIZE_U32 | FUTEX2_PRIVATE };

		return syscall(NR_futex_waitv, &w, 1, 0, NULL, CLOCK_MONOTONIC);
	}
	return syscall(NR_futex_wait, &word, (unsigned long)expect, (unsigned long)FUTEX_BITSET_MATCH_ANY,
		       FUTEX2_SIZE_U32 | FUTEX2_PRIVATE, NULL, CLOCK_MONOTONIC);
}

static void *waiter(void *arg)
{
	(void)arg;
	for (int r = 0; r < rounds; r++) {
		uint32_t v = (uint32_t)r;

		while (word == v) {
			long ret = wait_on(v, r);

			if (ret < 0 && errno != EAGAIN && errno != EINTR) {
				perror("futex2: wait");
				exit(1);
			}
		}
		done_rounds = (uint32_t)r + 1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	pthread_t th;

	if (argc > 1)
		rounds = atoi(argv[1]);
	if (rounds < 1 || argc > 2) {
		fprintf(stderr, "usage: futex2 [ROUNDS]\n");
		return 2;
	}
	if (syscall(NR_futex_wake, &word, (unsigned long)FUTEX_BITSET_MATCH_ANY, 1,
		    FUTEX2_SIZE_U32 | FUTEX2_PRIVATE) < 0) {
		fprintf(stderr, "futex2: this kernel has no futex_wake (%s)\n", strerror(errno));
		return 3;
	}
	if (pthread_create(&th, NULL, waiter, NULL)) {
		fprintf(stderr, "futex2: pthread_create failed\n");
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		nanosleep(&ts, NULL);   /* the waiter is asleep in the kernel by now */
		__atomic_fetch_add(&word, 1, __ATOMIC_SEQ_CST);
		syscall(NR_futex_wake, &word, (unsigned long)FUTEX_BITSET_MATCH_ANY, 1,
			FUTEX2_SIZE_U32 | FUTEX2_PRIVATE);
		while (done_rounds < (uint32_t)r + 1)
			sched_yield();
	}
	pthread_join(th, NULL);
	printf("uaddr=%p rounds=%d\n", (void *)&word, rounds);
	return 0;
}
