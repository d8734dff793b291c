/* tests/unit/test_hist.c: log2 slot math and percentiles of user/hist.c. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "model/hist.h"
#include <linux/types.h>
#include "poolscope.h"

int main(void)
{
	uint64_t h[PS_HIST_SLOTS] = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	CHECK("slot of 0 and 1 is 0", hist_slot_of(0, 40) == 0 && hist_slot_of(1, 40) == 0, "got %u %u",
	      hist_slot_of(0, 40), hist_slot_of(1, 40));
	CHECK("slot of 2 and 3 is 1", hist_slot_of(2, 40) == 1 && hist_slot_of(3, 40) == 1, "bad");
	CHECK("slot of 1023 is 9, of 1024 is 10", hist_slot_of(1023, 40) == 9 && hist_slot_of(1024, 40) == 10,
	      "got %u %u", hist_slot_of(1023, 40), hist_slot_of(1024, 40));
	CHECK("huge values clamp to the last slot", hist_slot_of(UINT64_MAX, 40) == 39, "got %u",
	      hist_slot_of(UINT64_MAX, 40));
	CHECK("slot bounds: slot 10 is [1024, 2048)", hist_slot_low(10) == 1024 && hist_slot_high(10) == 2048,
	      "got %llu %llu", (unsigned long long)hist_slot_low(10), (unsigned long long)hist_slot_high(10));
	for (uint64_t v = 1; v < (1ull << 30); v = v * 3 + 1) {
		unsigned s = hist_slot_of(v, 40);
		if (v < hist_slot_low(s) || v >= hist_slot_high(s)) {
			CHECK("every value lies inside its slot's bounds", 0, "%llu not in slot %u",
			      (unsigned long long)v, s);
			break;
		}
	}
	CHECK("empty histogram: percentile 0", hist_percentile(h, PS_HIST_SLOTS, 50) == 0, "not 0");

	/* 100 values all in slot 10 [1024, 2048): p50 interpolates to the middle */
	h[10] = 100;
	uint64_t p50 = hist_percentile(h, PS_HIST_SLOTS, 50);
	CHECK("one slot: p50 in the middle of the slot", p50 == 1536, "got %llu", (unsigned long long)p50);
	CHECK("one slot: p100 at the slot's top", hist_percentile(h, PS_HIST_SLOTS, 100) == 2048, "bad");

	/* 90 fast (slot 3) and 10 slow (slot 20): p50 fast, p99 slow */
	memset(h, 0, sizeof(h));
	h[3] = 90;
	h[20] = 10;
	uint64_t p90 = hist_percentile(h, PS_HIST_SLOTS, 90), p99 = hist_percentile(h, PS_HIST_SLOTS, 99);
	CHECK("bimodal: p50 in the fast slot", hist_percentile(h, PS_HIST_SLOTS, 50) < 16, "bad");
	CHECK("bimodal: p90 is the fast slot's top", p90 == 16, "got %llu", (unsigned long long)p90);
	CHECK("bimodal: p99 in the slow slot", p99 >= (1u << 20) && p99 < (1u << 21), "got %llu",
	      (unsigned long long)p99);
	CHECK("total counts every slot", hist_total(h, PS_HIST_SLOTS) == 100, "bad");

	f = open_memstream(&buf, &len);
	hist_print(f, h, PS_HIST_SLOTS, 20);
	fclose(f);
	int rows = 0;
	for (char *p = buf; *p; p++)
		rows += *p == '\n';
	CHECK("printed rows span first to last non-empty slot", rows == 20 - 3 + 1, "got %d rows:\n%s", rows, buf);
	CHECK("the fullest row has the full bar", strstr(buf, "|********************|") != NULL, "%s", buf);
	free(buf);
	return check_failures() != 0;
}
