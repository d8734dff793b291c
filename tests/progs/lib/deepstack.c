/* tests/progs/lib/deepstack.c: libdeepstack.so for tests/progs/deepstack, a
 * library like libcurl as poolscope sees it: built without frame pointers,
 * using %rbp as a general register, and keeping large frames (1600 bytes
 * here) between the program's call and the blocking system call. */
#include <poll.h>
#include <string.h>

int deep_wait(int ms);

__attribute__((noinline)) int deep_wait(int ms)
{
	char buf[1600];
	int r;

	memset(buf, ms, sizeof(buf));
	__asm__ volatile("" : : "r"(buf) : "memory");
	/* what libcurl's code does to the frame-pointer chain */
	__asm__ volatile("xor %%ebp, %%ebp" : : : "rbp");
	r = poll(NULL, 0, ms);
	__asm__ volatile("" : : "r"(buf) : "memory");
	return r + buf[ms & 1023];
}
