/* tests/unit/test_pb.c: the protobuf wire-format encoder writes the bytes
 * the protobuf encoding documentation gives for its examples, the canonical
 * lengths of nested messages whatever their size, and output that protoc
 * itself decodes against a schema (written here) into the values encoded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "render/pb.h"

static char hexbuf[4096];

static const char *hex(const struct pb *b)
{
	size_t n = 0;

	hexbuf[0] = '\0';
	for (size_t i = 0; i < b->len && n + 4 < sizeof(hexbuf); i++)
		n += snprintf(hexbuf + n, sizeof(hexbuf) - n, "%s%02x", i ? " " : "", b->data[i]);
	return hexbuf;
}

#define CHECK_HEX(name, pb, want) \
	CHECK(name, !strcmp(hex(pb), want), "got %s, want %s", hex(pb), want)

static void test_doc_examples(void)
{
	struct pb b;

	/* protobuf.dev/programming-guides/encoding: message Test1 { int32 a = 1; } a=150 */
	pb_init(&b);
	pb_uint64(&b, 1, 150);
	CHECK_HEX("varint: field 1 = 150 is 08 96 01", &b, "08 96 01");
	pb_free(&b);

	/* Test2 { string b = 2; } b="testing" */
	pb_init(&b);
	pb_string(&b, 2, "testing");
	CHECK_HEX("string: field 2 = \"testing\"", &b, "12 07 74 65 73 74 69 6e 67");
	pb_free(&b);

	/* Test3 { Test1 c = 3; } c.a=150 */
	pb_init(&b);
	size_t m = pb_begin(&b, 3);
	pb_uint64(&b, 1, 150);
	pb_end(&b, m);
	CHECK_HEX("nested: field 3 = { a: 150 }", &b, "1a 03 08 96 01");
	pb_free(&b);

	/* Test4 { repeated int32 d = 4; } d=[3, 270, 86942], packed */
	pb_init(&b);
	m = pb_begin(&b, 4);
	pb_packed_int64(&b, 3);
	pb_packed_int64(&b, 270);
	pb_packed_int64(&b, 86942);
	pb_end(&b, m);
	CHECK_HEX("packed: field 4 = [3, 270, 86942]", &b, "22 06 03 8e 02 9e a7 05");
	pb_free(&b);
}

static void test_scalars(void)
{
	struct pb b;

	pb_init(&b);
	pb_raw_varint(&b, 0);
	pb_raw_varint(&b, 127);
	pb_raw_varint(&b, 128);
	pb_raw_varint(&b, 300);
	CHECK_HEX("varints 0, 127, 128, 300", &b, "00 7f 80 01 ac 02");
	pb_free(&b);

	pb_init(&b);
	pb_raw_varint(&b, UINT64_MAX);
	CHECK_HEX("varint 2^64-1 takes 10 bytes", &b, "ff ff ff ff ff ff ff ff ff 01");
	pb_free(&b);

	pb_init(&b);
	pb_int64(&b, 1, -1);
	CHECK_HEX("int64 -1: two's complement, 10 bytes", &b, "08 ff ff ff ff ff ff ff ff ff 01");
	pb_free(&b);

	pb_init(&b);
	pb_sint64(&b, 1, -1);
	pb_sint64(&b, 1, 1);
	pb_sint64(&b, 1, -2);
	CHECK_HEX("sint64 -1, 1, -2: zigzag 1, 2, 3", &b, "08 01 08 02 08 03");
	pb_free(&b);

	CHECK("zigzag of the int32 extremes",
	      pb_zigzag(2147483647) == 4294967294u && pb_zigzag(-2147483648ll) == 4294967295u,
	      "%llu %llu", (unsigned long long)pb_zigzag(2147483647),
	      (unsigned long long)pb_zigzag(-2147483648ll));
	CHECK("zigzag of the int64 extremes",
	      pb_zigzag(INT64_MAX) == UINT64_MAX - 1 && pb_zigzag(INT64_MIN) == UINT64_MAX, "%llu %llu",
	      (unsigned long long)pb_zigzag(INT64_MAX), (unsigned long long)pb_zigzag(INT64_MIN));

	pb_init(&b);
	pb_fixed64(&b, 1, 0x0102030405060708ull);
	pb_fixed32(&b, 2, 0x0a0b0c0d);
	CHECK_HEX("fixed64 and fixed32: little-endian", &b,
		  "09 08 07 06 05 04 03 02 01 15 0d 0c 0b 0a");
	pb_free(&b);

	pb_init(&b);
	pb_double(&b, 1, 1.0);
	pb_float(&b, 2, -2.0f);
	CHECK_HEX("double 1.0 and float -2.0: IEEE 754 bits", &b,
		  "09 00 00 00 00 00 00 f0 3f 15 00 00 00 c0");
	pb_free(&b);

	pb_init(&b);
	pb_bool(&b, 7, true);
	pb_uint64(&b, 16, 1);
	pb_uint64(&b, 2047, 0);
	CHECK_HEX("tags: field 7 bool, field 16 and 2047 take 2 bytes", &b, "38 01 80 01 01 f8 7f 00");
	pb_free(&b);

	CHECK("varint lengths: 1, 2, 3, 10 bytes",
	      pb_varint_len(127) == 1 && pb_varint_len(128) == 2 && pb_varint_len(16384) == 3 &&
	      pb_varint_len(UINT64_MAX) == 10, "%zu %zu %zu %zu", pb_varint_len(127),
	      pb_varint_len(128), pb_varint_len(16384), pb_varint_len(UINT64_MAX));
}

/* A nested body of n bytes (one bytes field) inside an outer message whose
 * length grows with it: both lengths back-patched, body moved intact. */
static void test_long_nested(size_t n, const char *name)
{
	struct pb b;
	char *payload = malloc(n);
	size_t body = n + 1 + pb_varint_len(n); /* tag + length + payload */
	size_t inner_len = body, outer_body = 1 + pb_varint_len(inner_len) + inner_len + 2;
	bool ok = true;

	for (size_t i = 0; i < n; i++)
		payload[i] = (char)(i * 7);
	pb_init(&b);
	size_t outer = pb_begin(&b, 1);
	size_t inner = pb_begin(&b, 2);
	pb_bytes(&b, 3, payload, n);
	pb_end(&b, inner);
	pb_uint64(&b, 4, 5);
	pb_end(&b, outer);

	/* decode it back by hand */
	size_t at = 0;
	uint64_t v = 0;
	int shift = 0;
	ok &= b.data[at++] == 0x0a;
	do {
		v |= (uint64_t)(b.data[at] & 0x7f) << shift;
		shift += 7;
	} while (b.data[at++] & 0x80);
	ok &= v == outer_body && at + v == b.len;
	ok &= b.data[at++] == 0x12;
	v = 0, shift = 0;
	do {
		v |= (uint64_t)(b.data[at] & 0x7f) << shift;
		shift += 7;
	} while (b.data[at++] & 0x80);
	ok &= v == inner_len;
	ok &= b.data[at++] == 0x1a;
	at += pb_varint_len(n);
	ok &= !memcmp(b.data + at, payload, n);
	at += n;
	ok &= b.data[at] == 0x20 && b.data[at + 1] == 5 && at + 2 == b.len;
	CHECK(name, ok, "%zu bytes encoded, outer length %llu", b.len, (unsigned long long)v);
	pb_free(&b);
	free(payload);
}

static const char schema[] =
	"syntax = \"proto3\";\n"
	"package pbtest;\n"
	"message Inner {\n"
	"  uint64 id = 1;\n"
	"  string name = 2;\n"
	"  repeated uint64 ids = 3;\n"
	"}\n"
	"message All {\n"
	"  uint64 u64 = 1;\n"
	"  int64 i64 = 2;\n"
	"  sint64 s64 = 3;\n"
	"  bool flag = 4;\n"
	"  fixed64 f64 = 5;\n"
	"  fixed32 f32 = 6;\n"
	"  double d = 7;\n"
	"  float f = 8;\n"
	"  string str = 9;\n"
	"  bytes raw = 10;\n"
	"  repeated Inner inner = 11;\n"
	"  repeated int64 packed = 12;\n"
	"  repeated sint64 zz = 13;\n"
	"  repeated fixed64 fx = 14;\n"
	"  int32 i32 = 15;\n"
	"  uint64 big_field = 300;\n"
	"}\n";

static const char expected[] =
	"u64: 18446744073709551615\n"
	"i64: -5\n"
	"s64: -123456789\n"
	"flag: true\n"
	"f64: 72623859790382856\n"
	"f32: 168496141\n"
	"d: 0.125\n"
	"f: -2.5\n"
	"str: \"caf\\303\\251\"\n"
	"raw: \"\\000\\001\\377\"\n"
	"inner {\n"
	"  id: 1\n"
	"  name: \"first\"\n"
	"  ids: 1\n"
	"  ids: 2\n"
	"  ids: 300\n"
	"}\n"
	"inner {\n"
	"  id: 2\n"
	"  name: \"%s\"\n"
	"}\n"
	"packed: 0\n"
	"packed: -1\n"
	"packed: 150\n"
	"zz: -1\n"
	"zz: 9223372036854775807\n"
	"zz: -9223372036854775808\n"
	"fx: 1\n"
	"fx: 18446744073709551615\n"
	"i32: -2147483648\n"
	"big_field: 7\n";

static void encode_all(struct pb *b, const char *long_name)
{
	pb_uint64(b, 1, UINT64_MAX);
	pb_int64(b, 2, -5);
	pb_sint64(b, 3, -123456789);
	pb_bool(b, 4, true);
	pb_fixed64(b, 5, 0x0102030405060708ull);
	pb_fixed32(b, 6, 0x0a0b0c0d);
	pb_double(b, 7, 0.125);
	pb_float(b, 8, -2.5f);
	pb_string(b, 9, "caf\xc3\xa9");
	pb_bytes(b, 10, "\0\1\377", 3);
	size_t m = pb_begin(b, 11);
	pb_uint64(b, 1, 1);
	pb_string(b, 2, "first");
	size_t p = pb_begin(b, 3);
	pb_packed_uint64(b, 1);
	pb_packed_uint64(b, 2);
	pb_packed_uint64(b, 300);
	pb_end(b, p);
	pb_end(b, m);
	m = pb_begin(b, 11);
	pb_uint64(b, 1, 2);
	pb_string(b, 2, long_name);
	pb_end(b, m);
	p = pb_begin(b, 12);
	pb_packed_int64(b, 0);
	pb_packed_int64(b, -1);
	pb_packed_int64(b, 150);
	pb_end(b, p);
	p = pb_begin(b, 13);
	pb_packed_sint64(b, -1);
	pb_packed_sint64(b, INT64_MAX);
	pb_packed_sint64(b, INT64_MIN);
	pb_end(b, p);
	p = pb_begin(b, 14);
	pb_packed_fixed64(b, 1);
	pb_packed_fixed64(b, UINT64_MAX);
	pb_end(b, p);
	pb_int64(b, 15, -2147483648ll); /* int32 negatives are sign-extended to 64 bits */
	pb_uint64(b, 300, 7);
}

static bool write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "w");
	bool ok = f && fwrite(p, 1, n, f) == n;

	return f && !fclose(f) && ok;
}

/* protoc --decode reads the bytes against the schema and prints them as
 * text format: the independent reader of the encoding. */
static void test_protoc_decodes(void)
{
	char dir[] = "/tmp/poolscope-pb.XXXXXX", path[256], cmd[1024], out[8192], want[8192];
	char long_name[400];
	struct pb b;
	size_t n = 0;

	if (!mkdtemp(dir)) {
		CHECK("protoc --decode reads the encoding", false, "mkdtemp failed");
		return;
	}
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	pb_init(&b);
	encode_all(&b, long_name);
	snprintf(path, sizeof(path), "%s/pbtest.proto", dir);
	bool ok = write_file(path, schema, sizeof(schema) - 1);
	snprintf(path, sizeof(path), "%s/msg.bin", dir);
	ok = ok && write_file(path, b.data, b.len);
	pb_free(&b);
	snprintf(cmd, sizeof(cmd), "protoc --proto_path=%s --decode=pbtest.All pbtest.proto <%s/msg.bin 2>&1",
		 dir, dir);
	FILE *p = ok ? popen(cmd, "r") : NULL;
	if (p) {
		n = fread(out, 1, sizeof(out) - 1, p);
		ok = pclose(p) == 0;
	}
	out[n] = '\0';
	snprintf(want, sizeof(want), expected, long_name);
	CHECK("protoc --decode reads every field type back (protobuf-compiler installed)",
	      p && ok && !strcmp(out, want), "protoc said:\n%s", n ? out : "(nothing: is protoc installed?)");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
	test_doc_examples();
	test_scalars();
	test_long_nested(10, "nested: short bodies keep one length byte");
	test_long_nested(200, "nested: a 200-byte body gets a 2-byte length, outer too");
	test_long_nested(20000, "nested: a 20000-byte body gets a 3-byte length, outer too");
	test_long_nested(3000000, "nested: a 3 MB body gets a 4-byte length, outer too");
	test_protoc_decodes();
	return check_failures() != 0;
}
