/* user/render/pb.h: a small encoder of the protocol buffers wire format,
 * for writers of formats defined by a .proto schema (pprof profiles here;
 * Perfetto traces are the same wire format). No schema, no reflection, no
 * generated code: the writer calls one function per field, with the field
 * number from the schema, and the bytes come out in that order.
 *
 * The wire format in brief (protobuf.dev, "Encoding"): a message is a
 * sequence of fields, each a tag varint (field_number << 3 | wire_type)
 * followed by the value:
 *   wire type 0 VARINT  int32/int64/uint32/uint64/bool/enum: base-128
 *                       varint, low group first; negative int32/int64 take
 *                       10 bytes (two's complement of 64 bits); sint32/sint64
 *                       are zigzag-mapped first (-1 -> 1, 1 -> 2, -2 -> 3)
 *   wire type 1 I64     fixed64/sfixed64/double: 8 bytes little-endian
 *   wire type 2 LEN     string/bytes/nested message/packed repeated scalars:
 *                       a varint byte count, then the bytes
 *   wire type 5 I32     fixed32/sfixed32/float: 4 bytes little-endian
 *
 * Nested messages and packed repeated fields are written in place:
 * pb_begin() writes the tag and remembers where the body starts, the body's
 * fields follow, pb_end() puts the body's length in front of it (moving the
 * body when the length needs more than one byte), so lengths are exact and
 * the output is the canonical encoding. Begin/end pairs nest.
 *
 *   struct pb pb;
 *   pb_init(&pb);
 *   pb_string(&pb, 1, "name");                // field 1: string
 *   size_t m = pb_begin(&pb, 2);              // field 2: a nested message
 *   pb_uint64(&pb, 1, 42);                    //   its field 1: uint64
 *   size_t p = pb_begin(&pb, 2);              //   its field 2: packed int64s
 *   pb_packed_int64(&pb, -1); pb_packed_int64(&pb, 300);
 *   pb_end(&pb, p);
 *   pb_end(&pb, m);
 *   ... pb.data, pb.len ...
 *   pb_free(&pb);
 *
 * proto3 leaves fields at their default (0, "", false) out of the encoding;
 * these functions always write what they are given, so a proto3 writer skips
 * zero values itself (a decoder reads an explicit zero the same way).
 * Allocation failure is fatal (xrealloc), like everywhere in poolscope. */
#ifndef POOLSCOPE_PB_H
#define POOLSCOPE_PB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pb_wire { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

struct pb {
	uint8_t *data;
	size_t len, cap;
};

void pb_init(struct pb *b);
void pb_free(struct pb *b);

/* Scalars, wire type VARINT. int64 is two's complement (negative: 10
 * bytes); sint64 is zigzag (small negatives stay short). */
void pb_uint64(struct pb *b, uint32_t field, uint64_t v);
void pb_int64(struct pb *b, uint32_t field, int64_t v);
void pb_sint64(struct pb *b, uint32_t field, int64_t v);
void pb_bool(struct pb *b, uint32_t field, bool v);
/* Fixed width, little-endian: fixed64/sfixed64, double (I64); fixed32/
 * sfixed32, float (I32). */
void pb_fixed64(struct pb *b, uint32_t field, uint64_t v);
void pb_fixed32(struct pb *b, uint32_t field, uint32_t v);
void pb_double(struct pb *b, uint32_t field, double v);
void pb_float(struct pb *b, uint32_t field, float v);
/* Length-delimited: bytes, a string (without its NUL), an already encoded
 * message. */
void pb_bytes(struct pb *b, uint32_t field, const void *p, size_t n);
void pb_string(struct pb *b, uint32_t field, const char *s);

/* A nested message or a packed repeated field: begin returns a mark, end
 * closes the innermost open one with that mark. */
size_t pb_begin(struct pb *b, uint32_t field);
void pb_end(struct pb *b, size_t mark);

/* Elements of a packed repeated field, between pb_begin and pb_end: values
 * without tags. */
void pb_packed_uint64(struct pb *b, uint64_t v);
void pb_packed_int64(struct pb *b, int64_t v);
void pb_packed_sint64(struct pb *b, int64_t v);
void pb_packed_fixed64(struct pb *b, uint64_t v);

/* The building blocks, for what the above do not cover. */
void pb_tag(struct pb *b, uint32_t field, enum pb_wire wire);
void pb_raw_varint(struct pb *b, uint64_t v);
void pb_raw(struct pb *b, const void *p, size_t n);
uint64_t pb_zigzag(int64_t v);
/* Bytes of v as a varint (1..10). */
size_t pb_varint_len(uint64_t v);

#endif
