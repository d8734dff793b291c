/* user/hist.h: log2 histograms of nanoseconds, as the BPF side fills them
 * (slot i holds values in [2^i, 2^(i+1)); slot 0 also holds 0), percentiles
 * and the text rendering shared by every report. */
#ifndef POOLSCOPE_HIST_H
#define POOLSCOPE_HIST_H
#include <stdint.h>
#include <stdio.h>

/* The slot a value lands in (same math as the BPF side), clamped to nslots-1. */
unsigned hist_slot_of(uint64_t ns, unsigned nslots);
/* Inclusive lower and exclusive upper bound of slot i. */
uint64_t hist_slot_low(unsigned i);
uint64_t hist_slot_high(unsigned i);
uint64_t hist_total(const uint64_t *slots, unsigned nslots);
/* Percentile p (0..100) by linear interpolation inside the slot holding the
 * rank; 0 for an empty histogram. */
uint64_t hist_percentile(const uint64_t *slots, unsigned nslots, double p);
/* Rows "low -> high : count |****|" from the first to the last non-empty slot. */
void hist_print(FILE *out, const uint64_t *slots, unsigned nslots, int bar_width);

#endif
