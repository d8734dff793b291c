/* tests/unit/test_json.c: the streaming JSON writer produces exactly the
 * expected text, escapes strings, and nests. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "render/json.h"

static char *render(void (*fn)(struct json *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	json_init(&j, f, false);
	fn(&j);
	fclose(f);
	return buf;
}

static void nested(struct json *j)
{
	json_object_begin(j);
	json_kv_u64(j, "a", 1);
	json_key(j, "list");
	json_array_begin(j);
	json_u64(j, 2);
	json_object_begin(j);
	json_kv_bool(j, "t", true);
	json_object_end(j);
	json_array_begin(j);
	json_array_end(j);
	json_array_end(j);
	json_kv_double(j, "x", 0.5);
	json_key(j, "n");
	json_null(j);
	json_object_end(j);
}

static void escapes(struct json *j)
{
	json_string(j, "q\"b\\n\n\t\x01");
}

static void not_finite(struct json *j)
{
	json_array_begin(j);
	json_double(j, 1.0 / 0.0);
	json_i64(j, -3);
	json_array_end(j);
}

int main(void)
{
	char *s = render(nested);
	CHECK("nested objects and arrays with commas in the right places",
	      !strcmp(s, "{\"a\":1,\"list\":[2,{\"t\":true},[]],\"x\":0.5,\"n\":null}"), "got %s", s);
	free(s);
	s = render(escapes);
	CHECK("strings are escaped", !strcmp(s, "\"q\\\"b\\\\n\\n\\t\\u0001\""), "got %s", s);
	free(s);
	s = render(not_finite);
	CHECK("non-finite doubles become null", !strcmp(s, "[null,-3]"), "got %s", s);
	free(s);
	return check_failures() != 0;
}
