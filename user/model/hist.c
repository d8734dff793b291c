/* user/hist.c: log2 histogram math and rendering (see hist.h). */
#include "model/hist.h"
#include "sys/util.h"

unsigned hist_slot_of(uint64_t ns, unsigned nslots)
{
	unsigned s = ns ? 63 - __builtin_clzll(ns) : 0;

	return s < nslots ? s : nslots - 1;
}

uint64_t hist_slot_low(unsigned i)
{
	return i ? 1ull << i : 0;
}

uint64_t hist_slot_high(unsigned i)
{
	return i >= 63 ? UINT64_MAX : 1ull << (i + 1);
}

uint64_t hist_total(const uint64_t *slots, unsigned nslots)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < nslots; i++)
		t += slots[i];
	return t;
}

uint64_t hist_percentile(const uint64_t *slots, unsigned nslots, double p)
{
	uint64_t total = hist_total(slots, nslots), seen = 0;
	double rank;

	if (!total)
		return 0;
	rank = p / 100.0 * total;
	for (unsigned i = 0; i < nslots; i++) {
		if (!slots[i])
			continue;
		if (seen + slots[i] >= rank) {
			double frac = (rank - seen) / slots[i];
			double lo = hist_slot_low(i), hi = hist_slot_high(i);

			return (uint64_t)(lo + frac * (hi - lo));
		}
		seen += slots[i];
	}
	return hist_slot_high(nslots - 1);
}

void hist_print(FILE *out, const uint64_t *slots, unsigned nslots, int bar_width)
{
	int first = -1, last = -1;
	uint64_t max = 0;
	char lo[16], hi[16], cnt[32];

	for (unsigned i = 0; i < nslots; i++) {
		if (!slots[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (slots[i] > max)
			max = slots[i];
	}
	if (first < 0) {
		fprintf(out, "  (no samples)\n");
		return;
	}
	for (int i = first; i <= last; i++) {
		int n = (int)((double)slots[i] * bar_width / max + 0.5);

		fmt_dur(hist_slot_low(i), lo, sizeof(lo));
		fmt_dur(hist_slot_high(i), hi, sizeof(hi));
		fprintf(out, "  %9s -> %-9s %10s |", lo, hi, fmt_count(slots[i], cnt, sizeof(cnt)));
		for (int j = 0; j < bar_width; j++)
			fputc(j < n ? '*' : ' ', out);
		fputs("|\n", out);
	}
}
