/* user/render/pb.c: the protocol buffers wire-format encoder (see pb.h). */
#include "render/pb.h"
#include "sys/util.h"
#include <stdlib.h>
#include <string.h>

void pb_init(struct pb *b)
{
	memset(b, 0, sizeof(*b));
}

void pb_free(struct pb *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void reserve(struct pb *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;

	while (cap < b->len + n)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void pb_raw(struct pb *b, const void *p, size_t n)
{
	if (!n)
		return;
	reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

size_t pb_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t put_varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

void pb_raw_varint(struct pb *b, uint64_t v)
{
	reserve(b, 10);
	b->len += put_varint(b->data + b->len, v);
}

uint64_t pb_zigzag(int64_t v)
{
	/* (v << 1) ^ (v >> 63), on unsigned values so no shift is undefined */
	return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

void pb_tag(struct pb *b, uint32_t field, enum pb_wire wire)
{
	pb_raw_varint(b, (uint64_t)field << 3 | wire);
}

void pb_uint64(struct pb *b, uint32_t field, uint64_t v)
{
	pb_tag(b, field, PB_VARINT);
	pb_raw_varint(b, v);
}

void pb_int64(struct pb *b, uint32_t field, int64_t v)
{
	pb_uint64(b, field, (uint64_t)v);
}

void pb_sint64(struct pb *b, uint32_t field, int64_t v)
{
	pb_uint64(b, field, pb_zigzag(v));
}

void pb_bool(struct pb *b, uint32_t field, bool v)
{
	pb_uint64(b, field, v ? 1 : 0);
}

static void put_le(struct pb *b, uint64_t v, int bytes)
{
	uint8_t le[8];

	for (int i = 0; i < bytes; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	pb_raw(b, le, bytes);
}

void pb_fixed64(struct pb *b, uint32_t field, uint64_t v)
{
	pb_tag(b, field, PB_I64);
	put_le(b, v, 8);
}

void pb_fixed32(struct pb *b, uint32_t field, uint32_t v)
{
	pb_tag(b, field, PB_I32);
	put_le(b, v, 4);
}

void pb_double(struct pb *b, uint32_t field, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	pb_fixed64(b, field, bits);
}

void pb_float(struct pb *b, uint32_t field, float v)
{
	uint32_t bits;

	memcpy(&bits, &v, sizeof(bits));
	pb_fixed32(b, field, bits);
}

void pb_bytes(struct pb *b, uint32_t field, const void *p, size_t n)
{
	pb_tag(b, field, PB_LEN);
	pb_raw_varint(b, n);
	pb_raw(b, p, n);
}

void pb_string(struct pb *b, uint32_t field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

/* The body's length goes in one reserved byte; a longer length moves the
 * body up by the bytes it needs beyond that one. */
size_t pb_begin(struct pb *b, uint32_t field)
{
	pb_tag(b, field, PB_LEN);
	reserve(b, 1);
	b->data[b->len++] = 0;
	return b->len;
}

void pb_end(struct pb *b, size_t mark)
{
	size_t body = b->len - mark, need = pb_varint_len(body);

	if (need > 1) {
		reserve(b, need - 1);
		memmove(b->data + mark + need - 1, b->data + mark, body);
		b->len += need - 1;
	}
	put_varint(b->data + mark - 1, body);
}

void pb_packed_uint64(struct pb *b, uint64_t v)
{
	pb_raw_varint(b, v);
}

void pb_packed_int64(struct pb *b, int64_t v)
{
	pb_raw_varint(b, (uint64_t)v);
}

void pb_packed_sint64(struct pb *b, int64_t v)
{
	pb_raw_varint(b, pb_zigzag(v));
}

void pb_packed_fixed64(struct pb *b, uint64_t v)
{
	put_le(b, v, 8);
}
