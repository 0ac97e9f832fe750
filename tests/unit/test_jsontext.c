/* Unit tests of api/jsontext.c: the escaper and the tree dumper against
 * json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII) itself, on hand-picked
 * strings and on a few thousand seeded pseudo-random trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/jsontext.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII)

/* ["s"] as json_dumps writes it (NULL when it refuses s). */
static char *
dumps_in_array(const char *s, size_t n)
{
	json_t *a = json_array();
	char *text;

	assert_non_null(a);
	assert_int_equal(json_array_append_new(a, json_stringn_nocheck(s, n)),
	                 0);
	text = json_dumps(a, FLAGS);
	json_decref(a);
	return text;
}

/* ["s"] through the escaper; NULL when it refuses. */
static char *
esc_in_array(const char *s, size_t n, enum jtext_bad bad)
{
	struct jtext t = { 0 };

	JTEXT_LIT(&t, "[\"");
	if (!jtext_esc(&t, s, n, bad)) {
		jtext_free(&t);
		return NULL;
	}
	JTEXT_LIT(&t, "\"]");
	assert_false(t.failed);
	assert_int_equal(strlen(t.p), t.len);
	return t.p;
}

/* Every way of writing s agrees with json_dumps; returns whether it is
 * valid UTF-8 (json_dumps accepts it). */
static bool
check_string(const char *s, size_t n)
{
	char *want = dumps_in_array(s, n);
	char *refuse = esc_in_array(s, n, JTEXT_REFUSE);
	char *replace = esc_in_array(s, n, JTEXT_REPLACE);
	json_t *a = json_array(), *back;
	struct jtext t = { 0 };
	size_t len = 0;
	char *dump;
	bool ok;

	assert_int_equal(json_array_append_new(a, json_stringn_nocheck(s, n)),
	                 0);
	/* REFUSE refuses exactly what json_dumps refuses, else agrees */
	if (want) {
		assert_non_null(refuse);
		assert_string_equal(refuse, want);
		assert_non_null(replace);
		assert_string_equal(replace, want);
	} else {
		assert_null(refuse);
	}
	/* REPLACE always writes JSON, in ASCII */
	assert_non_null(replace);
	for (const char *p = replace; *p; p++)
		assert_true((unsigned char)*p >= 0x20 &&
		            (unsigned char)*p <= 0x7f);
	back = json_loads(replace, JSON_ALLOW_NUL, NULL);
	assert_non_null(back);
	json_decref(back);
	/* the tree dumper and its fallback */
	ok = jtext_value(&t, a);
	assert_int_equal(ok, want != NULL);
	if (ok) {
		assert_string_equal(t.p, want);
		assert_int_equal(t.len, strlen(want));
	} else {
		assert_int_equal(t.len, 0);
	}
	jtext_free(&t);
	dump = jtext_dump(a, &len);
	if (want) {
		assert_non_null(dump);
		assert_string_equal(dump, want);
		assert_int_equal(len, strlen(want));
	} else {
		assert_null(dump);
	}
	ok = want != NULL;
	free(dump);
	free(want);
	free(refuse);
	free(replace);
	json_decref(a);
	return ok;
}

#define S(lit) lit, sizeof(lit) - 1

static void
test_strings(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		const char *want; /* the escape inside the quotes */
	} valid[] = {
		{ S(""), "" },
		{ S("plain ascii /slash"), "plain ascii /slash" },
		{ S("\"quoted\""), "\\\"quoted\\\"" },
		{ S("back\\slash"), "back\\\\slash" },
		{ S("\x7f"), "\x7f" },
		{ S("\xc2\x80"), "\\u0080" },
		{ S("caf\xc3\xa9"), "caf\\u00E9" },
		{ S("\xdf\xbf"), "\\u07FF" },
		{ S("\xe0\xa0\x80"), "\\u0800" },
		{ S("\xe4\xb8\xad\xe6\x96\x87"), "\\u4E2D\\u6587" },
		{ S("\xed\x9f\xbf"), "\\uD7FF" },
		{ S("\xee\x80\x80"), "\\uE000" },
		{ S("\xef\xbf\xbf"), "\\uFFFF" },
		{ S("\xf0\x90\x80\x80"), "\\uD800\\uDC00" },
		{ S("\xf0\x9f\x98\x80!"), "\\uD83D\\uDE00!" },
		{ S("\xf4\x8f\xbf\xbf"), "\\uDBFF\\uDFFF" },
	};
	/* invalid UTF-8 and what the U+FFFD policy makes of it */
	static const struct {
		const char *s;
		size_t n;
		const char *want;
	} invalid[] = {
		{ S("\x80"), "\\uFFFD" },
		{ S("a\xbf"
		    "b"),
		  "a\\uFFFDb" },
		{ S("\xc0\xaf"), "\\uFFFD\\uFFFD" },
		{ S("\xc1\xbf"), "\\uFFFD\\uFFFD" },
		{ S("\xe0\x80\xaf"), "\\uFFFD\\uFFFD\\uFFFD" },
		{ S("\xf0\x80\x80\xaf"), "\\uFFFD\\uFFFD\\uFFFD\\uFFFD" },
		{ S("\xed\xa0\x80"), "\\uFFFD\\uFFFD\\uFFFD" },
		{ S("\xed\xbf\xbf"), "\\uFFFD\\uFFFD\\uFFFD" },
		{ S("\xe4\xb8"), "\\uFFFD\\uFFFD" },
		{ S("x\xf0\x9f\x98"), "x\\uFFFD\\uFFFD\\uFFFD" },
		{ S("\xc3"), "\\uFFFD" },
		/* cut short by the length, the rest of it in memory after */
		{ "\xe4\xb8\xad", 2, "\\uFFFD\\uFFFD" },
		{ "\xf0\x9f\x98\x80", 3, "\\uFFFD\\uFFFD\\uFFFD" },
		{ "\xc3\xa9", 1, "\\uFFFD" },
		{ S("\xc3"
		    "a"),
		  "\\uFFFDa" },
		{ S("\xf4\x90\x80\x80"), "\\uFFFD\\uFFFD\\uFFFD\\uFFFD" },
		{ S("\xf5\x80\x80\x80"), "\\uFFFD\\uFFFD\\uFFFD\\uFFFD" },
		{ S("\xf8\x88\x80\x80\x80"),
		  "\\uFFFD\\uFFFD\\uFFFD\\uFFFD\\uFFFD" },
		{ S("\xfe\xff"), "\\uFFFD\\uFFFD" },
	};
	static const char *const ctl[] = { "\\u0000", "\\u0001", "\\u0002",
		                           "\\u0003", "\\u0004", "\\u0005",
		                           "\\u0006", "\\u0007", "\\b",
		                           "\\t",     "\\n",     "\\u000B",
		                           "\\f",     "\\r",     "\\u000E",
		                           "\\u000F" };
	char buf[64], want[128];
	char *long_s;

	(void)state;
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		char *got;

		assert_true(check_string(valid[i].s, valid[i].n));
		snprintf(want, sizeof(want), "[\"%s\"]", valid[i].want);
		got = esc_in_array(valid[i].s, valid[i].n, JTEXT_REFUSE);
		assert_string_equal(got, want);
		free(got);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		char *got;

		assert_false(check_string(invalid[i].s, invalid[i].n));
		snprintf(want, sizeof(want), "[\"%s\"]", invalid[i].want);
		got = esc_in_array(invalid[i].s, invalid[i].n, JTEXT_REPLACE);
		assert_string_equal(got, want);
		free(got);
	}
	/* every control character, alone and inside text (NUL too) */
	for (int c = 0; c < 0x20; c++) {
		char *got;

		buf[0] = 'a';
		buf[1] = (char)c;
		buf[2] = 'z';
		assert_true(check_string(buf + 1, 1));
		assert_true(check_string(buf, 3));
		got = esc_in_array(buf + 1, 1, JTEXT_REFUSE);
		if (c < 0x10)
			snprintf(want, sizeof(want), "[\"%s\"]", ctl[c]);
		else
			snprintf(want, sizeof(want), "[\"\\u%04X\"]",
			         (unsigned)c);
		assert_string_equal(got, want);
		free(got);
	}
	/* a long string: the buffer grows */
	long_s = malloc(100000);
	assert_non_null(long_s);
	for (size_t i = 0; i < 100000; i++)
		long_s[i] = "a\"\\\n\x01"
		            "bcdefghij"[i % 14];
	assert_true(check_string(long_s, 100000));
	free(long_s);
}

static void
test_str_int_bool(void **state)
{
	struct jtext t = { 0 };

	(void)state;
	jtext_str(&t, NULL);
	JTEXT_LIT(&t, ",");
	jtext_str(&t, "a\xff\"");
	JTEXT_LIT(&t, ",");
	jtext_int(&t, INT64_MIN);
	JTEXT_LIT(&t, ",");
	jtext_int(&t, INT64_MAX);
	JTEXT_LIT(&t, ",");
	jtext_bool(&t, true);
	JTEXT_LIT(&t, ",");
	jtext_bool(&t, false);
	assert_false(t.failed);
	assert_string_equal(t.p, "null,\"a\\uFFFD\\\"\",-9223372036854775808,"
	                         "9223372036854775807,true,false");
	jtext_free(&t);
}

/* ---- pseudo-random trees --------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t
next(void)
{
	/* xorshift64*: deterministic, seeded above */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1du;
}

static unsigned
below(unsigned n)
{
	return (unsigned)(next() % n);
}

/* Random bytes, mostly text, sometimes not UTF-8. */
static size_t
random_bytes(char *out, size_t cap)
{
	static const char *const pieces[] = { "a",
		                              "Z",
		                              " ",
		                              "/",
		                              "\"",
		                              "\\",
		                              "\x7f",
		                              "\n",
		                              "\t",
		                              "\b",
		                              "\f",
		                              "\r",
		                              "\x01",
		                              "\x1f",
		                              "\xc3\xa9",
		                              "\xe4\xb8\xad",
		                              "\xef\xbf\xbf",
		                              "\xf0\x9f\x98\x80",
		                              "\xf4\x8f\xbf\xbf",
		                              "\xed\x9f\xbf",
		                              "\xee\x80\x80" };
	size_t n = below(12), len = 0;

	for (size_t i = 0; i < n && len + 4 < cap; i++) {
		if (below(60) == 0) {
			out[len++] = (char)below(256); /* any byte at all */
		} else if (below(12) == 0) {
			out[len++] = '\0';
		} else {
			const char *p =
			    pieces[below(sizeof(pieces) / sizeof(pieces[0]))];

			memcpy(out + len, p, strlen(p));
			len += strlen(p);
		}
	}
	return len;
}

/* What a tree holds that the dumper leaves to json_dumps. */
struct odd {
	bool real;
	bool bad_key; /* a key that is not UTF-8 (only _nocheck makes one) */
};

static void
set_random_key(json_t *o, json_t *v)
{
	char key[64];
	size_t n = random_bytes(key, sizeof(key));

	assert_int_equal(json_object_setn_new_nocheck(o, key, n, v), 0);
}

/* What of odd the finished tree holds (a key set twice keeps one value,
 * so this looks at the tree, not at what was made). A key is UTF-8 when
 * Jansson's own check says so. */
static void
scan(json_t *v, struct odd *odd)
{
	const char *key;
	size_t key_len, i;
	json_t *m;

	if (json_is_real(v))
		odd->real = true;
	if (json_is_array(v))
		json_array_foreach(v, i, m) scan(m, odd);
	if (json_is_object(v)) {
		json_object_keylen_foreach(v, key, key_len, m)
		{
			json_t *probe = json_stringn(key, key_len);

			if (!probe)
				odd->bad_key = true;
			json_decref(probe);
			scan(m, odd);
		}
	}
}

static json_t *
random_value(int depth)
{
	char buf[64];
	size_t n;
	unsigned kind = depth >= 6 ? 2 + below(7) : below(9);

	switch (kind) {
	case 0: {
		json_t *o = json_object();
		unsigned k = below(6);

		for (unsigned i = 0; i < k; i++)
			set_random_key(o, random_value(depth + 1));
		return o;
	}
	case 1: {
		json_t *a = json_array();
		unsigned k = below(6);

		for (unsigned i = 0; i < k; i++)
			json_array_append_new(a, random_value(depth + 1));
		return a;
	}
	case 2: {
		static const json_int_t special[] = { INT64_MIN, INT64_MAX,
			                              0,         -1,
			                              1,         INT32_MIN };

		if (below(3) == 0)
			return json_integer(special[below(6)]);
		return json_integer((json_int_t)next());
	}
	case 3:
		return json_true();
	case 4:
		return json_false();
	case 5:
		return json_null();
	case 6:
		if (below(12) == 0) {
			return json_real((double)(int64_t)next() / 1e9);
		}
		return json_integer(below(1000));
	default:
		n = random_bytes(buf, sizeof(buf));
		return json_stringn_nocheck(buf, n);
	}
}

static void
test_random_trees(void **state)
{
	unsigned same = 0, refused = 0, with_real = 0, bad_key = 0;

	(void)state;
	for (int i = 0; i < 4000; i++) {
		struct odd odd = { false, false };
		json_t *tree = below(2) ? json_object() : json_array();
		unsigned k = 1 + below(5);
		struct jtext t = { 0 };
		char *want, *dump;
		size_t len = 0;
		bool ok;

		for (unsigned j = 0; j < k; j++) {
			json_t *v = random_value(1);

			if (json_is_object(tree)) {
				set_random_key(tree, v);
			} else {
				json_array_append_new(tree, v);
			}
		}
		scan(tree, &odd);
		want = json_dumps(tree, FLAGS);
		JTEXT_LIT(&t, "prefix");
		ok = jtext_value(&t, tree);
		/*
		 * gives up exactly when json_dumps refuses, a real is in, or a
		 * key is not UTF-8: Jansson 2.14 ignores the failure of such a
		 * key and writes the text up to it, unquoted, then goes on
		 * (not JSON); left to Jansson, it stays byte-identical.
		 */
		assert_int_equal(ok, want != NULL && !odd.real && !odd.bad_key);
		if (ok) {
			assert_string_equal(t.p + 6, want);
			assert_int_equal(t.len, 6 + strlen(want));
			same++;
		} else {
			assert_string_equal(t.p, "prefix"); /* as it was */
			assert_int_equal(t.len, 6);
			if (!want)
				refused++;
			else if (odd.bad_key)
				bad_key++;
			else
				with_real++;
		}
		jtext_free(&t);
		dump = jtext_dump(tree, &len);
		if (want) {
			assert_non_null(dump);
			assert_string_equal(dump, want);
			assert_int_equal(len, strlen(want));
		} else {
			assert_null(dump);
		}
		free(dump);
		free(want);
		json_decref(tree);
	}
	/* each outcome is exercised, not only the easy one */
	print_message("jsontext: %u same, %u refused, %u with a real, %u with "
	              "a key not UTF-8\n",
	              same, refused, with_real, bad_key);
	assert_true(same > 1000);
	assert_true(refused > 100);
	assert_true(with_real > 50);
	assert_true(bad_key > 50);
}

/* Nesting: 32 levels are written, deeper gives up to json_dumps; a loop
 * gives up too and json_dumps refuses it. */
static void
test_depth_and_loop(void **state)
{
	(void)state;
	for (int levels = 30; levels <= 40; levels++) {
		json_t *top = json_array(), *a = top;
		struct jtext t = { 0 };
		char *want, *dump;
		size_t len = 0;
		bool ok;

		for (int i = 1; i < levels; i++) {
			json_t *in = json_array();

			json_array_append_new(a, in);
			a = in;
		}
		json_array_append_new(a, json_string("x"));
		want = json_dumps(top, FLAGS);
		assert_non_null(want);
		ok = jtext_value(&t, top);
		/* levels arrays around a string: the string is at depth levels
		 */
		assert_int_equal(ok, levels <= 32);
		if (ok)
			assert_string_equal(t.p, want);
		jtext_free(&t);
		dump = jtext_dump(top, &len);
		assert_string_equal(dump, want);
		assert_int_equal(len, strlen(want));
		free(dump);
		free(want);
		json_decref(top);
	}
	{
		json_t *a = json_array(), *b = json_array();
		size_t len = 0;

		assert_int_equal(json_array_append(a, b), 0);
		assert_int_equal(json_array_append(b, a), 0);
		assert_null(json_dumps(a, FLAGS));
		assert_null(jtext_dump(a, &len));
		json_array_clear(b);
		json_decref(b);
		json_decref(a);
	}
}

/* Scalars: jtext_value writes them (as JSON_ENCODE_ANY would), jtext_dump
 * refuses them as json_dumps does. */
static void
test_scalars(void **state)
{
	json_t *v[] = { json_string("a\xc3\xa9"), json_integer(-5), json_true(),
		        json_null(), json_real(1.5) };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct jtext t = { 0 };
		char *any = json_dumps(v[i], FLAGS | JSON_ENCODE_ANY);
		size_t len = 0;

		assert_non_null(any);
		assert_null(json_dumps(v[i], FLAGS));
		assert_null(jtext_dump(v[i], &len));
		if (jtext_value(&t, v[i]))
			assert_string_equal(t.p, any);
		else
			assert_true(json_is_real(v[i]));
		jtext_free(&t);
		free(any);
		json_decref(v[i]);
	}
}

/*
 * jtext_str_strict: json_pack's "s" — the same text as json_dumps of the
 * string, and false with t as it was where json_pack fails (NULL, not
 * UTF-8). jtext_truncate cuts back to a mark.
 */
static void
test_str_strict_and_truncate(void **state)
{
	static const char *const good[] = { "",
		                            "plain",
		                            "q\"b\\s/",
		                            "\x01\x1f\x7f",
		                            "\xc3\x9c \xe2\x82\xac",
		                            "\xf0\x9f\x98\x80" };
	static const char *const bad[] = { "\xff", "a\xc3", "\xed\xa0\x80",
		                           "\xc0\xaf" };
	struct jtext t = { 0 };
	bool ok = true;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *want = dumps_in_array(good[i], strlen(good[i]));

		assert_non_null(want);
		t.len = 0;
		JTEXT_LIT(&t, "[");
		assert_true(jtext_str_strict(&t, good[i]));
		JTEXT_LIT(&t, "]");
		assert_string_equal(t.p, want);
		assert_int_equal(t.len, strlen(want));
		free(want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(dumps_in_array(bad[i], strlen(bad[i])));
		jtext_truncate(&t, 0);
		JTEXT_LIT(&t, "[1,");
		assert_false(jtext_str_strict(&t, bad[i]));
		assert_string_equal(t.p, "[1,");
		assert_int_equal(t.len, 3);
	}
	assert_false(jtext_str_strict(&t, NULL));
	assert_string_equal(t.p, "[1,");
	jtext_truncate(&t, 1);
	assert_string_equal(t.p, "[");
	assert_int_equal(t.len, 1);
	jtext_truncate(&t, 5); /* beyond the end: nothing changes */
	assert_string_equal(t.p, "[");
	assert_false(t.failed);

	/* a member, then one that fails: *ok cleared, the key stays for the
	 * caller to drop, no later value is written */
	jtext_truncate(&t, 0);
	JTEXT_MEMBER(&t, "{\"a\":", "x\"", &ok);
	assert_true(ok);
	JTEXT_MEMBER(&t, ",\"b\":", "\xff", &ok);
	assert_false(ok);
	JTEXT_MEMBER(&t, ",\"c\":", "y", &ok);
	assert_false(ok);
	assert_string_equal(t.p, "{\"a\":\"x\\\"\",\"b\":,\"c\":");
	jtext_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_str_int_bool),
		cmocka_unit_test(test_random_trees),
		cmocka_unit_test(test_depth_and_loop),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_str_strict_and_truncate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
