/*
 * jsontext.c: JSON as text, byte for byte what json_dumps(JSON_COMPACT |
 * JSON_ENSURE_ASCII) writes (see jsontext.h).
 */
#include "api/jsontext.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JTEXT_MAX_DEPTH 32

bool
jtext_reserve(struct jtext *t, size_t n)
{
	size_t cap;
	char *np;

	if (t->failed)
		return false;
	if (t->cap - t->len > n)
		return true;
	cap = t->cap ? t->cap : 1024;
	while (cap - t->len <= n) {
		if (cap > SIZE_MAX / 2)
			goto nomem;
		cap *= 2;
	}
	np = realloc(t->p, cap);
	if (!np)
		goto nomem;
	t->p = np;
	t->cap = cap;
	return true;
nomem:
	jtext_free(t);
	t->failed = true;
	return false;
}

void
jtext_raw(struct jtext *t, const char *s, size_t n)
{
	if (!jtext_reserve(t, n))
		return;
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

void
jtext_free(struct jtext *t)
{
	free(t->p);
	t->p = NULL;
	t->len = t->cap = 0;
}

/* \uXXXX with upper-case hex digits, as Jansson writes them. */
static void
jtext_u16(struct jtext *t, uint32_t u)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[6] = { '\\',
		      'u',
		      hex[(u >> 12) & 15],
		      hex[(u >> 8) & 15],
		      hex[(u >> 4) & 15],
		      hex[u & 15] };

	jtext_raw(t, e, sizeof(e));
}

bool
jtext_esc(struct jtext *t, const char *s, size_t n, enum jtext_bad bad)
{
	const unsigned char *p = (const unsigned char *)s, *end;

	if (!s)
		return true;
	end = p + n;
	while (p < end) {
		const unsigned char *run = p;
		uint32_t cp;
		size_t len;

		/* the common case: a run of printable ASCII, copied at once */
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' &&
		       *p != '\\')
			p++;
		if (p > run)
			jtext_raw(t, (const char *)run, (size_t)(p - run));
		if (p == end)
			break;
		switch (*p) {
		case '"':
			JTEXT_LIT(t, "\\\"");
			p++;
			continue;
		case '\\':
			JTEXT_LIT(t, "\\\\");
			p++;
			continue;
		case '\b':
			JTEXT_LIT(t, "\\b");
			p++;
			continue;
		case '\f':
			JTEXT_LIT(t, "\\f");
			p++;
			continue;
		case '\n':
			JTEXT_LIT(t, "\\n");
			p++;
			continue;
		case '\r':
			JTEXT_LIT(t, "\\r");
			p++;
			continue;
		case '\t':
			JTEXT_LIT(t, "\\t");
			p++;
			continue;
		default:
			break;
		}
		/* it refuses exactly what Jansson's utf8_iterate refuses */
		len = util_utf8_char(p, (size_t)(end - p), &cp);
		if (len == 0) {
			if (bad == JTEXT_REFUSE)
				return false;
			cp = 0xfffd;
			len = 1;
		}
		p += len;
		if (cp < 0x10000) {
			jtext_u16(t, cp);
		} else {
			cp -= 0x10000;
			jtext_u16(t, 0xd800 | (cp >> 10));
			jtext_u16(t, 0xdc00 | (cp & 0x3ff));
		}
	}
	return true;
}

void
jtext_str(struct jtext *t, const char *s)
{
	if (!s) {
		JTEXT_LIT(t, "null");
		return;
	}
	JTEXT_LIT(t, "\"");
	jtext_esc(t, s, strlen(s), JTEXT_REPLACE);
	JTEXT_LIT(t, "\"");
}

void
jtext_truncate(struct jtext *t, size_t len)
{
	if (t->failed || !t->p || len > t->len)
		return;
	t->len = len;
	t->p[len] = '\0';
}

bool
jtext_str_strict(struct jtext *t, const char *s)
{
	size_t mark = t->len;

	if (!s)
		return false;
	JTEXT_LIT(t, "\"");
	if (!jtext_esc(t, s, strlen(s), JTEXT_REFUSE)) {
		jtext_truncate(t, mark);
		return false;
	}
	JTEXT_LIT(t, "\"");
	return !t->failed;
}

void
jtext_member_str(struct jtext *t, const char *lit, size_t n, const char *s,
                 bool *ok)
{
	jtext_raw(t, lit, n);
	if (*ok && !jtext_str_strict(t, s))
		*ok = false;
}

void
jtext_int(struct jtext *t, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);

	if (n > 0 && (size_t)n < sizeof(buf))
		jtext_raw(t, buf, (size_t)n);
}

void
jtext_bool(struct jtext *t, bool v)
{
	if (v)
		JTEXT_LIT(t, "true");
	else
		JTEXT_LIT(t, "false");
}

static bool
jtext_string_refuse(struct jtext *t, const char *s, size_t n)
{
	JTEXT_LIT(t, "\"");
	if (!jtext_esc(t, s, n, JTEXT_REFUSE))
		return false;
	JTEXT_LIT(t, "\"");
	return true;
}

/* false: gave up (t->failed untouched) or out of memory (t->failed). */
static bool
dump_value(struct jtext *t, json_t *v, int depth)
{
	if (!v || depth > JTEXT_MAX_DEPTH)
		return false;
	switch (json_typeof(v)) {
	case JSON_NULL:
		JTEXT_LIT(t, "null");
		break;
	case JSON_TRUE:
		JTEXT_LIT(t, "true");
		break;
	case JSON_FALSE:
		JTEXT_LIT(t, "false");
		break;
	case JSON_INTEGER:
		jtext_int(t, (int64_t)json_integer_value(v));
		break;
	case JSON_STRING:
		if (!jtext_string_refuse(t, json_string_value(v),
		                         json_string_length(v)))
			return false;
		break;
	case JSON_ARRAY:
		JTEXT_LIT(t, "[");
		for (size_t i = 0; i < json_array_size(v) && !t->failed; i++) {
			if (i)
				JTEXT_LIT(t, ",");
			if (!dump_value(t, json_array_get(v, i), depth + 1))
				return false;
		}
		JTEXT_LIT(t, "]");
		break;
	case JSON_OBJECT: {
		void *it = json_object_iter(v);

		JTEXT_LIT(t, "{");
		for (bool first = true; it && !t->failed;
		     it = json_object_iter_next(v, it), first = false) {
			if (!first)
				JTEXT_LIT(t, ",");
			if (!jtext_string_refuse(t, json_object_iter_key(it),
			                         json_object_iter_key_len(it)))
				return false;
			JTEXT_LIT(t, ":");
			if (!dump_value(t, json_object_iter_value(it),
			                depth + 1))
				return false;
		}
		JTEXT_LIT(t, "}");
		break;
	}
	default: /* a real: Jansson's %.17g and its trimming are not ours */
		return false;
	}
	return !t->failed;
}

bool
jtext_value(struct jtext *t, json_t *v)
{
	size_t start = t->len;

	if (t->failed)
		return false;
	if (dump_value(t, v, 0))
		return true;
	if (!t->failed) {
		t->len = start; /* gave up: t as it was */
		if (t->p)
			t->p[start] = '\0';
	}
	return false;
}

char *
jtext_dump(json_t *j, size_t *len)
{
	struct jtext t = { 0 };
	char *text;

	if (j && (json_is_object(j) || json_is_array(j)) &&
	    jtext_value(&t, j)) {
		*len = t.len;
		return t.p;
	}
	jtext_free(&t);
	text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text)
		*len = strlen(text);
	return text;
}
