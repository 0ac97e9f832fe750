/*
 * jsontext.h: JSON written as text, byte for byte what Jansson 2.14's
 * json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII) writes: keys in insertion
 * order, \" \\ \b \f \n \r \t, other controls and non-ASCII as \uXXXX in
 * upper-case hex, astral characters as surrogate pairs. Internal to api/.
 *
 * One growable buffer serves both ways of writing: by hand, a member at a
 * time (the order, the most frequent answer), and by dumping a json_t
 * tree in one pass without Jansson's loop check (a pointer printed and
 * hashed per container) and its callback per fragment.
 */
#ifndef AMTCERTD_API_JSONTEXT_H
#define AMTCERTD_API_JSONTEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Zero-initialised it is empty. p stays NUL-terminated once written. */
struct jtext {
	char *p;
	size_t len, cap;
	bool failed; /* out of memory: p is freed, nothing more is written */
};

/* What the escaper does with bytes that are not well-formed UTF-8. */
enum jtext_bad {
	JTEXT_REPLACE, /* each such byte becomes U+FFFD: the text stays JSON */
	JTEXT_REFUSE,  /* jtext_esc returns false, as json_dumps refuses */
};

/* Room for n more bytes (and the NUL); false when out of memory. */
bool jtext_reserve(struct jtext *t, size_t n);
void jtext_raw(struct jtext *t, const char *s, size_t n);
/* A literal: a key with its quotes and colon, punctuation. */
#define JTEXT_LIT(t, s) jtext_raw((t), "" s, sizeof(s) - 1)
void jtext_free(struct jtext *t);

/*
 * s[0..n) escaped for the inside of a JSON string, in ASCII. False only
 * with JTEXT_REFUSE and invalid UTF-8 (part of s may have been written).
 */
bool jtext_esc(struct jtext *t, const char *s, size_t n, enum jtext_bad bad);
/* s as a JSON string, invalid UTF-8 replaced; NULL as null. */
void jtext_str(struct jtext *t, const char *s);
/*
 * s as a JSON string the way json_pack's "s" takes it: false (and t as it
 * was) when s is NULL or not UTF-8, where json_pack fails.
 */
bool jtext_str_strict(struct jtext *t, const char *s);
/*
 * lit (punctuation and a key with its quotes and colon), then s as
 * jtext_str_strict writes it; where that fails *ok is cleared (s is left
 * out: the caller drops what it was writing). Nothing more of s once *ok
 * is false.
 */
void jtext_member_str(struct jtext *t, const char *lit, size_t n, const char *s,
                      bool *ok);
#define JTEXT_MEMBER(t, lit, s, ok) \
	jtext_member_str((t), "" lit, sizeof(lit) - 1, (s), (ok))
/* Drops what was written after the first len bytes (len <= t->len). */
void jtext_truncate(struct jtext *t, size_t len);
void jtext_int(struct jtext *t, int64_t v);
void jtext_bool(struct jtext *t, bool v);

/*
 * v as json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY)
 * writes it, appended to t. Gives up (returns false, t as it was) on what
 * it does not write the way Jansson does or what Jansson refuses: a real,
 * a string that is not UTF-8 (json_dumps refuses it), a key that is not
 * UTF-8 (only a _nocheck setter makes one; Jansson 2.14 ignores the
 * failure and writes the key cut short and unquoted), nesting deeper than
 * 32 (which also stops a loop). False as well when t is out of memory.
 */
bool jtext_value(struct jtext *t, json_t *v);

/*
 * j as json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) writes it (malloc'd,
 * *len its length): jtext_value, and json_dumps itself when that gives up.
 * NULL where json_dumps returns NULL (not an array or an object, invalid
 * UTF-8, a loop) or when out of memory.
 */
char *jtext_dump(json_t *j, size_t *len);

#endif
