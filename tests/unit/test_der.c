/*
 * test_der.c: unit tests of the DER/BER reader and the base64 decoder
 * (pki/der.c), table-driven: good inputs, and hostile ones (truncated,
 * overlong and overflowing lengths, indefinite lengths where DER is
 * asked for, deep nesting, bad base64), and the BER path through intake
 * with a PKCS#12 written with indefinite lengths the way Windows and Java
 * write them (tests/fuzz/corpus/der/bundle-ber.p12, password "test": the
 * DER bundle.p12 beside it, every constructed element re-encoded with an
 * indefinite length). Every input is fed as an exact-size heap copy, so
 * ASan catches any read past the length given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "pki/der.h"
#include "pki/pki.h"

#include <gnutls/gnutls.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BYTES(...)                              \
	(const unsigned char[]){ __VA_ARGS__ }, \
	    sizeof((const unsigned char[]){ __VA_ARGS__ })

/* Outcome of one pki_der_next() call. */
enum want {
	OK,
	BAD,   /* ERR_INVALID, not truncated */
	SHORT, /* ERR_INVALID, truncated */
};

struct tlv_case {
	const char *name;
	const unsigned char *in;
	size_t len;
	unsigned flags;
	enum want want;
	unsigned char tag;   /* OK: the identifier octet */
	size_t hdr;          /* OK, SHORT: header bytes (0: header cut) */
	size_t contents_len; /* OK: contents bytes */
	size_t total;        /* OK: bytes the element takes */
};

static unsigned char *
heap_copy(const unsigned char *p, size_t len)
{
	unsigned char *c = malloc(len ? len : 1);

	assert_non_null(c);
	if (len)
		memcpy(c, p, len);
	return c;
}

/* Runs pki_der_next() on an exact-size copy and checks the outcome. */
static void
check_tlv_case(const struct tlv_case *tc)
{
	unsigned char *copy = heap_copy(tc->in, tc->len);
	struct der in = { copy, tc->len };
	struct der_tlv el;
	int ret;

	ret = pki_der_next(&in, tc->flags, &el);
	switch (tc->want) {
	case OK:
		if (ret != 0)
			fail_msg("%s: pki_der_next failed", tc->name);
		assert_int_equal(el.tag, tc->tag);
		assert_int_equal(el.hdr, tc->hdr);
		assert_int_equal(el.contents.len, tc->contents_len);
		assert_int_equal(el.total, tc->total);
		assert_ptr_equal(el.start, copy);
		assert_ptr_equal(el.contents.p, copy + tc->hdr);
		assert_ptr_equal(in.p, copy + tc->total);
		assert_int_equal(in.len, tc->len - tc->total);
		break;
	case BAD:
	case SHORT:
		if (ret != ERR_INVALID)
			fail_msg("%s: pki_der_next accepted it", tc->name);
		if (el.truncated != (tc->want == SHORT))
			fail_msg("%s: truncated is %d", tc->name, el.truncated);
		/* Cut off: hdr says whether the header was whole. */
		if (tc->want == SHORT && el.hdr != tc->hdr)
			fail_msg("%s: hdr is %zu", tc->name, el.hdr);
		/* The cursor does not move on failure. */
		assert_ptr_equal(in.p, copy);
		assert_int_equal(in.len, tc->len);
		break;
	}
	free(copy);
}

/* ---- headers and lengths ---------------------------------------------- */

static void
test_next_table(void **state)
{
	static const unsigned char long128[3 + 128] = { 0x04, 0x81, 0x80 };
	static const unsigned char long256[4 + 256] = { 0x04, 0x82, 0x01,
		                                        0x00 };
	const struct tlv_case cases[] = {
		/* Good DER. */
		{ "empty SEQUENCE", BYTES(0x30, 0x00), 0, OK, 0x30, 2, 0, 2 },
		{ "INTEGER 5", BYTES(0x02, 0x01, 0x05), 0, OK, 0x02, 2, 1, 3 },
		{ "SEQUENCE { NULL }", BYTES(0x30, 0x02, 0x05, 0x00), 0, OK,
		  0x30, 2, 2, 4 },
		{ "element then more", BYTES(0x05, 0x00, 0xff, 0xff), 0, OK,
		  0x05, 2, 0, 2 },
		{ "[0] constructed", BYTES(0xa0, 0x03, 0x02, 0x01, 0x02), 0, OK,
		  0xa0, 2, 3, 5 },
		{ "long form 128", long128, sizeof(long128), 0, OK, 0x04, 3,
		  128, 131 },
		{ "long form 256", long256, sizeof(long256), 0, OK, 0x04, 4,
		  256, 260 },

		/* Truncated: the input ends before the element does. */
		{ "nothing", BYTES(0x30), 0, SHORT, 0, 0, 0, 0 },
		{ "contents cut", BYTES(0x30, 0x05, 0x02, 0x01), 0, SHORT, 0, 2,
		  0, 0 },
		{ "length octets cut", BYTES(0x30, 0x82, 0x01), 0, SHORT, 0, 0,
		  0, 0 },
		{ "length 2^32-1",
		  BYTES(0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00), 0, SHORT, 0,
		  6, 0, 0 },
		{ "length 2^32-1 BER",
		  BYTES(0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00), DER_BER,
		  SHORT, 0, 6, 0, 0 },
		{ "length 2^31", BYTES(0x04, 0x84, 0x80, 0x00, 0x00, 0x00), 0,
		  SHORT, 0, 6, 0, 0 },

		/* Lengths that cannot be, or are not DER. */
		{ "5 length octets",
		  BYTES(0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00), 0, BAD, 0, 0,
		  0, 0 },
		{ "8 length octets (SIZE_MAX on 64-bit)",
		  BYTES(0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		        0xff),
		  DER_BER, BAD, 0, 0, 0, 0 },
		{ "8 length octets wrapping to 2",
		  BYTES(0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		        0xf6, 0x05, 0x00),
		  DER_BER, BAD, 0, 0, 0, 0 },
		{ "reserved 0xff", BYTES(0x30, 0xff, 0x00, 0x00), DER_BER, BAD,
		  0, 0, 0, 0 },
		{ "long form below 128", BYTES(0x30, 0x81, 0x00), 0, BAD, 0, 0,
		  0, 0 },
		{ "long form below 128 BER", BYTES(0x30, 0x81, 0x00), DER_BER,
		  OK, 0x30, 3, 0, 3 },
		{ "leading zero length octet",
		  BYTES(0x04, 0x82, 0x00, 0x01, 0xaa), 0, BAD, 0, 0, 0, 0 },
		{ "leading zero length octet BER",
		  BYTES(0x04, 0x82, 0x00, 0x01, 0xaa), DER_BER, OK, 0x04, 4, 1,
		  5 },

		/* Tags. */
		{ "high tag number", BYTES(0x1f, 0x81, 0x00, 0x00), DER_BER,
		  BAD, 0, 0, 0, 0 },
		{ "end mark as an element", BYTES(0x00, 0x00), DER_BER, BAD, 0,
		  0, 0, 0 },
		{ "tag 0 with contents", BYTES(0x00, 0x01, 0x00), 0, BAD, 0, 0,
		  0, 0 },

		/* Indefinite length (0x80). */
		{ "indefinite in DER", BYTES(0x30, 0x80, 0x00, 0x00), 0, BAD, 0,
		  0, 0, 0 },
		{ "indefinite primitive", BYTES(0x04, 0x80, 0x01, 0x00, 0x00),
		  DER_BER, BAD, 0, 0, 0, 0 },
		{ "indefinite SEQUENCE",
		  BYTES(0x30, 0x80, 0x02, 0x01, 0x03, 0x00, 0x00, 0xee),
		  DER_BER, OK, 0x30, 2, 3, 7 },
		{ "indefinite empty", BYTES(0x30, 0x80, 0x00, 0x00), DER_BER,
		  OK, 0x30, 2, 0, 4 },
		{ "indefinite nested",
		  BYTES(0x30, 0x80, 0x24, 0x80, 0x04, 0x01, 0xaa, 0x00, 0x00,
		        0x02, 0x01, 0x01, 0x00, 0x00),
		  DER_BER, OK, 0x30, 2, 10, 14 },
		{ "end mark inside definite child is data",
		  BYTES(0x30, 0x80, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00),
		  DER_BER, OK, 0x30, 2, 4, 8 },
		{ "indefinite without end mark",
		  BYTES(0x30, 0x80, 0x02, 0x01, 0x03), DER_BER, SHORT, 0, 2, 0,
		  0 },
		{ "indefinite header alone", BYTES(0x30, 0x80), DER_BER, SHORT,
		  0, 2, 0, 0 },
		{ "indefinite, half an end mark",
		  BYTES(0x30, 0x80, 0x05, 0x00, 0x00), DER_BER, SHORT, 0, 2, 0,
		  0 },
		{ "indefinite, inner end mark missing",
		  BYTES(0x30, 0x80, 0x30, 0x80, 0x00, 0x00), DER_BER, SHORT, 0,
		  2, 0, 0 },
		{ "indefinite, child too long",
		  BYTES(0x30, 0x80, 0x04, 0x05, 0x00, 0x00), DER_BER, SHORT, 0,
		  2, 0, 0 },
		{ "indefinite, bad child",
		  BYTES(0x30, 0x80, 0x1f, 0x01, 0x00, 0x00, 0x00), DER_BER, BAD,
		  0, 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		check_tlv_case(&cases[i]);
}

/* n levels of "30 80" then n end marks; *len gets the size. */
static unsigned char *
ber_nest(size_t n, size_t *len)
{
	unsigned char *p = malloc(4 * n);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		p[2 * i] = 0x30;
		p[2 * i + 1] = 0x80;
		p[2 * n + 2 * i] = 0;
		p[2 * n + 2 * i + 1] = 0;
	}
	*len = 4 * n;
	return p;
}

static void
test_ber_depth(void **state)
{
	struct der_tlv el;
	struct der in;
	unsigned char *p;
	size_t len;

	(void)state;
	/* As deep as allowed: read whole. */
	p = ber_nest(DER_MAX_DEPTH, &len);
	in.p = p;
	in.len = len;
	assert_int_equal(pki_der_next(&in, DER_BER, &el), 0);
	assert_int_equal(el.total, len);
	assert_int_equal(in.len, 0);
	free(p);

	/* One deeper: refused, and not as "truncated". */
	p = ber_nest(DER_MAX_DEPTH + 1, &len);
	in.p = p;
	in.len = len;
	assert_int_equal(pki_der_next(&in, DER_BER, &el), ERR_INVALID);
	assert_false(el.truncated);
	free(p);

	/* A million levels: refused at once, no recursion to overflow. */
	p = ber_nest(1000000, &len);
	in.p = p;
	in.len = len;
	assert_int_equal(pki_der_next(&in, DER_BER, &el), ERR_INVALID);
	free(p);
}

/* Definite nesting has no depth of its own: a caller walks down level by
 * level, and each level is bounded by the one above. */
static void
test_definite_nesting(void **state)
{
	enum { LEVELS = 60 }; /* short-form lengths: at most 118 */
	unsigned char buf[2 * LEVELS];
	struct der in, val;

	(void)state;
	for (size_t i = 0; i < LEVELS; i++) {
		buf[2 * i] = 0x30;
		buf[2 * i + 1] = (unsigned char)(2 * (LEVELS - 1 - i));
	}
	in.p = buf;
	in.len = sizeof(buf);
	for (size_t i = 0; i < LEVELS; i++) {
		assert_int_equal(pki_der_take(&in, DER_SEQUENCE, &val), 0);
		assert_int_equal(in.len, 0);
		in = val;
	}
	assert_int_equal(in.len, 0);

	/* An inner length one byte longer than its parent allows. */
	buf[2 * 30 + 1]++;
	in.p = buf;
	in.len = sizeof(buf);
	for (size_t i = 0; i < 30; i++) {
		assert_int_equal(pki_der_take(&in, DER_SEQUENCE, &val), 0);
		in = val;
	}
	assert_int_equal(pki_der_take(&in, DER_SEQUENCE, &val), ERR_INVALID);
}

/* ---- pki_der_one, pki_der_take, pki_der_peek
 * --------------------------------------- */

static void
test_one(void **state)
{
	const struct {
		const char *name;
		const unsigned char *in;
		size_t len;
		unsigned char tag;
		unsigned flags;
		int want;
		bool truncated;
	} cases[] = {
		{ "exact SEQUENCE", BYTES(0x30, 0x03, 0x02, 0x01, 0x00), 0x30,
		  0, 0, false },
		{ "any tag", BYTES(0x02, 0x01, 0x00), 0, 0, 0, false },
		{ "wrong tag", BYTES(0x31, 0x00), 0x30, 0, ERR_INVALID, false },
		{ "trailing byte", BYTES(0x30, 0x00, 0x00), 0x30, 0,
		  ERR_INVALID, false },
		{ "trailing element", BYTES(0x30, 0x00, 0x30, 0x00), 0x30, 0,
		  ERR_INVALID, false },
		{ "truncated", BYTES(0x30, 0x7f, 0x00), 0x30, 0, ERR_INVALID,
		  true },
		{ "indefinite in DER", BYTES(0x30, 0x80, 0x00, 0x00), 0x30, 0,
		  ERR_INVALID, false },
		{ "indefinite in BER", BYTES(0x30, 0x80, 0x00, 0x00), 0x30,
		  DER_BER, 0, false },
		{ "BER, bytes after the end mark",
		  BYTES(0x30, 0x80, 0x00, 0x00, 0x00), 0x30, DER_BER,
		  ERR_INVALID, false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		unsigned char *c = heap_copy(cases[i].in, cases[i].len);
		struct der_tlv el;
		int ret;

		ret = pki_der_one(c, cases[i].len, cases[i].tag, cases[i].flags,
		                  &el);
		if (ret != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].name, ret,
			         cases[i].want);
		if (ret == 0)
			assert_int_equal(el.total, cases[i].len);
		else
			assert_int_equal(el.truncated, cases[i].truncated);
		free(c);
	}
	assert_int_equal(pki_der_one(NULL, 0, 0, 0, &(struct der_tlv){ 0 }),
	                 ERR_INVALID);
}

static void
test_take_and_peek(void **state)
{
	/* SEQUENCE { OID 1.2.3, OCTET STRING "ab" } */
	static const unsigned char seq[] = { 0x30, 0x08, 0x06, 0x02, 0x2a,
		                             0x03, 0x04, 0x02, 'a',  'b' };
	static const unsigned char oid123[] = { 0x2a, 0x03 };
	unsigned char *c = heap_copy(seq, sizeof(seq));
	struct der in = { c, sizeof(seq) }, body, v;

	(void)state;
	assert_true(pki_der_peek(&in, DER_SEQUENCE));
	assert_false(pki_der_peek(&in, DER_OID));
	/* The wrong tag leaves the cursor where it was. */
	assert_int_equal(pki_der_take(&in, DER_OID, &v), ERR_INVALID);
	assert_ptr_equal(in.p, c);
	assert_int_equal(pki_der_take(&in, DER_SEQUENCE, &body), 0);
	assert_int_equal(in.len, 0);
	assert_false(pki_der_peek(&in, DER_SEQUENCE));

	assert_int_equal(pki_der_take(&body, DER_OID, &v), 0);
	assert_true(pki_der_oid_is(&v, oid123, sizeof(oid123)));
	assert_false(pki_der_oid_is(&v, oid123, 1));
	assert_int_equal(pki_der_take(&body, DER_OCTETS, &v), 0);
	assert_int_equal(v.len, 2);
	assert_memory_equal(v.p, "ab", 2);
	assert_int_equal(body.len, 0);
	assert_int_equal(pki_der_take(&body, DER_OCTETS, &v), ERR_INVALID);
	free(c);
}

static void
test_uint(void **state)
{
	const struct {
		const unsigned char *in;
		size_t len;
		int want;
		unsigned value;
	} cases[] = {
		{ BYTES(0x00), 0, 0 },
		{ BYTES(0x03), 0, 3 },
		{ BYTES(0x7f), 0, 127 },
		{ BYTES(0x00, 0x80), 0, 128 },
		{ BYTES(0x09, 0x27, 0xc0), 0, 600000 },
		{ BYTES(0x00, 0xff, 0xff, 0xff, 0xff), 0, UINT_MAX },
		{ NULL, 0, ERR_INVALID, 0 },           /* empty */
		{ BYTES(0x80), ERR_INVALID, 0 },       /* negative */
		{ BYTES(0xff, 0xff), ERR_INVALID, 0 }, /* negative */
		{ BYTES(0x00, 0x7f), ERR_INVALID, 0 }, /* not minimal */
		{ BYTES(0x00, 0x00), ERR_INVALID, 0 }, /* not minimal */
		{ BYTES(0x01, 0x00, 0x00, 0x00, 0x00), ERR_INVALID, 0 },
		{ BYTES(0x00, 0x80, 0x00, 0x00, 0x00, 0x00), ERR_INVALID, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		unsigned char *c = heap_copy(cases[i].in, cases[i].len);
		struct der v = { c, cases[i].len };
		unsigned x = 12345;

		if (pki_der_uint(&v, &x) != cases[i].want)
			fail_msg(
			    "case %zu: pki_der_uint gave the wrong verdict", i);
		assert_int_equal(x,
		                 cases[i].want == 0 ? cases[i].value : 12345u);
		free(c);
	}
}

/* ---- base64 ------------------------------------------------------------- */

static void
test_base64(void **state)
{
	static const struct {
		const char *in;
		int want;
		const char *out; /* want 0: the bytes */
		size_t out_len;
	} cases[] = {
		{ "QUJD", 0, "ABC", 3 },
		{ "QUI=", 0, "AB", 2 },
		{ "QQ==", 0, "A", 1 },
		{ "QUI", 0, "AB", 2 }, /* padding left out as a whole */
		{ "QQ", 0, "A", 1 },
		{ " Q U\r\nJ\tD\v\f ", 0, "ABC", 3 },
		{ "QUJD\r\nQUJD\r\n", 0, "ABCABC", 6 },
		{ "AAEC/w==", 0, "\x00\x01\x02\xff", 4 },
		{ "++//", 0, "\xfb\xef\xff", 3 },
		{ "", ERR_INVALID, NULL, 0 },
		{ " \r\n", ERR_INVALID, NULL, 0 },
		{ "====", ERR_INVALID, NULL, 0 },
		{ "Q", ERR_INVALID, NULL, 0 },     /* 6 bits */
		{ "QUJDQ", ERR_INVALID, NULL, 0 }, /* 6 bits over */
		{ "QQ=", ERR_INVALID, NULL, 0 },   /* half the padding */
		{ "Q===", ERR_INVALID, NULL, 0 },
		{ "QQ==QUJD", ERR_INVALID, NULL, 0 }, /* data after padding */
		{ "QR==", ERR_INVALID, NULL, 0 },     /* bits left over */
		{ "QUK=", ERR_INVALID, NULL, 0 },
		{ "QU-JD", ERR_INVALID, NULL, 0 }, /* GnuTLS would stop */
		{ "QU_JD", ERR_INVALID, NULL, 0 }, /* base64url */
		{ "QUJD!", ERR_INVALID, NULL, 0 },
		{ "Proc-Type: 4,ENCRYPTED\nQUJD", ERR_INVALID, NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n = strlen(cases[i].in);
		unsigned char *c =
		    heap_copy((const unsigned char *)cases[i].in, n);
		unsigned char *out = NULL;
		size_t out_len = 0;
		int ret;

		ret = pki_base64_decode(c, n, &out, &out_len);
		if (ret != cases[i].want)
			fail_msg("case %zu \"%s\": got %d, want %d", i,
			         cases[i].in, ret, cases[i].want);
		if (ret == 0) {
			assert_int_equal(out_len, cases[i].out_len);
			assert_memory_equal(out, cases[i].out, out_len);
			util_wipe(out, out_len);
			free(out);
		} else {
			assert_null(out);
		}
		free(c);
	}
	assert_int_equal(pki_base64_decode(NULL, 0, &(unsigned char *){ NULL },
	                                   &(size_t){ 0 }),
	                 ERR_INVALID);
}

/*
 * The decoder before pki/der.c had its own: a pass keeping the symbols,
 * then GnuTLS's gnutls_base64_decode2(). pki_base64_decode() must agree
 * with it on every input, result and bytes.
 */
static int
ref_base64_decode(const unsigned char *text, size_t len, unsigned char **out,
                  size_t *out_len)
{
	unsigned char *syms = malloc(len + 3);
	gnutls_datum_t in, dec = { NULL, 0 };
	size_t n = 0, pad = 0;
	int ret = ERR_INVALID;

	assert_non_null(syms);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = text[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		    c == '\v' || c == '\f')
			continue;
		if (c == '=')
			pad++;
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		           (c >= '0' && c <= '9') || c == '+' || c == '/') ||
		         pad > 0)
			goto cleanup;
		syms[n++] = c;
	}
	if (pad == 0 && n % 4 != 0) {
		if (n % 4 == 1)
			goto cleanup;
		while (n % 4 != 0)
			syms[n++] = '=';
	}
	if (n == pad)
		goto cleanup;
	in.data = syms;
	in.size = (unsigned)n;
	if (gnutls_base64_decode2(&in, &dec) < 0 || dec.size == 0)
		goto cleanup;
	*out = malloc(dec.size);
	assert_non_null(*out);
	memcpy(*out, dec.data, dec.size);
	*out_len = dec.size;
	ret = 0;
cleanup:
	gnutls_free(dec.data);
	free(syms);
	return ret;
}

/* A byte for random base64-ish text: mostly symbols, then '=', white
 * space, and anything at all. */
static unsigned char
random_b64_byte(void)
{
	static const char sym[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	                          "qrstuvwxyz0123456789+/";
	static const char space[] = " \t\r\n\v\f";
	int r = rand() % 100;

	if (r < 80)
		return (unsigned char)sym[rand() % 64];
	if (r < 88)
		return '=';
	if (r < 97)
		return (unsigned char)space[rand() % 6];
	return (unsigned char)(rand() % 256);
}

/* Both decoders on one input: the same result, the same bytes. */
static void
base64_agree(const unsigned char *text, size_t len)
{
	unsigned char *c = heap_copy(text, len);
	unsigned char *a = NULL, *b = NULL;
	size_t a_len = 0, b_len = 0;
	int ra, rb;

	ra = pki_base64_decode(c, len, &a, &a_len);
	rb = ref_base64_decode(c, len, &b, &b_len);
	if (ra != rb)
		fail_msg("\"%.*s\": got %d, GnuTLS %d", (int)len,
		         (const char *)text, ra, rb);
	if (ra == 0) {
		assert_int_equal(a_len, b_len);
		assert_memory_equal(a, b, a_len);
	}
	free(a);
	free(b);
	free(c);
}

/*
 * Random text against the old decoder: short strings of symbols, padding,
 * white space and stray bytes (every edge of the last group and the
 * padding), and real base64 of random bytes with CRLF or LF lines,
 * padding kept or dropped, a bit flipped now and then.
 */
static void
test_base64_vs_gnutls(void **state)
{
	unsigned char text[2048], raw[1024];
	gnutls_datum_t enc;

	(void)state;
	srand(20261130);
	/* every byte alone, and after three symbols */
	for (unsigned v = 0; v < 256; v++) {
		unsigned char one[1] = { (unsigned char)v };
		unsigned char four[4] = { 'Q', 'U', 'J', (unsigned char)v };
		unsigned char two[4] = { 'Q', (unsigned char)v, '=', '=' };

		base64_agree(one, 1);
		base64_agree(four, 4);
		base64_agree(two, 4);
	}
	for (int i = 0; i < 200000; i++) {
		size_t n = (size_t)(rand() % 13);

		for (size_t k = 0; k < n; k++)
			text[k] = random_b64_byte();
		base64_agree(text, n);
	}
	for (int i = 0; i < 3000; i++) {
		size_t n = (size_t)(rand() % 700) + 1, w = 0, col = 0;
		size_t line = (size_t)(rand() % 2 ? 64 : 76);
		bool crlf = rand() % 2, nopad = rand() % 4 == 0, flipped;
		gnutls_datum_t d;

		for (size_t k = 0; k < n; k++)
			raw[k] = (unsigned char)(rand() % 256);
		d.data = raw;
		d.size = (unsigned)n;
		assert_int_equal(gnutls_base64_encode2(&d, &enc), 0);
		for (unsigned k = 0; k < enc.size; k++) {
			if (nopad && enc.data[k] == '=')
				break;
			text[w++] = enc.data[k];
			if (++col == line) {
				if (crlf)
					text[w++] = '\r';
				text[w++] = '\n';
				col = 0;
			}
		}
		gnutls_free(enc.data);
		flipped = rand() % 8 == 0 && w > 0;
		if (flipped)
			text[(size_t)rand() % w] ^=
			    (unsigned char)(1u << (rand() % 8));
		base64_agree(text, w);
		if (!flipped) {
			/* unharmed text decodes to the bytes */
			unsigned char *out = NULL;
			size_t out_len = 0;

			assert_int_equal(
			    pki_base64_decode(text, w, &out, &out_len), 0);
			assert_int_equal(out_len, n);
			assert_memory_equal(out, raw, n);
			free(out);
		}
	}
}

static void
test_base64_text(void **state)
{
	(void)state;
	assert_true(pki_is_base64_text((const unsigned char *)"QUJD\r\n==", 8));
	assert_true(pki_is_base64_text((const unsigned char *)"", 0));
	assert_false(pki_is_base64_text((const unsigned char *)"QU-D", 4));
	assert_false(pki_is_base64_text((const unsigned char *)"QU\0D", 4));
}

static void
test_find_bytes(void **state)
{
	static const unsigned char hay[] = "xx-----BEGIN y";
	unsigned char *c = heap_copy(hay, sizeof(hay) - 1);

	(void)state;
	assert_ptr_equal(pki_find_bytes(c, sizeof(hay) - 1, "-----BEGIN "),
	                 c + 2);
	assert_null(pki_find_bytes(c, sizeof(hay) - 1, "-----END "));
	/* A needle reaching past the end is not found. */
	assert_null(pki_find_bytes(c, sizeof(hay) - 2, "BEGIN y"));
	assert_ptr_equal(pki_find_bytes(c, sizeof(hay) - 1, "y"),
	                 c + sizeof(hay) - 2);
	assert_null(pki_find_bytes(c, 0, "x"));
	free(c);
}

/* ---- BER through intake ------------------------------------------------ */

/* $AMTCERTD_SRC/tests/fuzz/corpus/der/name, read whole. */
static unsigned char *
read_seed(const char *name, size_t *len)
{
	const char *src = getenv("AMTCERTD_SRC");
	char path[1024];
	unsigned char *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/der/%s",
	         src ? src : ".", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (set AMTCERTD_SRC to the repo root)",
		         path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 2);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int
intake_copy(const unsigned char *p, size_t len, struct pki_bundle *b,
            const char **why)
{
	static const struct pki_intake_limits lim = {
		.max_input = 1024 * 1024,
		.max_total = 4 * 1024 * 1024,
		.max_entries = 16,
		.max_ratio = 100,
		.max_depth = 2,
		.max_certs = 16,
	};
	unsigned char *c = heap_copy(p, len);
	int ret;

	pki_bundle_init(b);
	*why = NULL;
	ret = pki_intake_add(b, c, len, "x.pfx", "test", &lim, why);
	free(c);
	return ret;
}

static void
test_ber_pkcs12(void **state)
{
	size_t ber_len, der_len;
	unsigned char *ber = read_seed("bundle-ber.p12", &ber_len);
	unsigned char *der = read_seed("bundle.p12", &der_len);
	struct pki_bundle b, d;
	const char *why;

	(void)state;
	assert_int_equal(pki_init(), 0);
	/* It is BER, and BER only. */
	assert_int_equal(ber[0], 0x30);
	assert_int_equal(ber[1], 0x80);
	assert_int_equal(
	    pki_der_one(ber, ber_len, DER_SEQUENCE, 0, &(struct der_tlv){ 0 }),
	    ERR_INVALID);
	assert_int_equal(pki_der_one(ber, ber_len, DER_SEQUENCE, DER_BER,
	                             &(struct der_tlv){ 0 }),
	                 0);

	/* The same certificates and key as the DER original. */
	assert_int_equal(intake_copy(der, der_len, &d, &why), 0);
	assert_int_equal(intake_copy(ber, ber_len, &b, &why), 0);
	assert_int_equal(b.count, d.count);
	assert_true(b.count > 0);
	for (size_t i = 0; i < b.count; i++)
		assert_string_equal(b.certs[i].sha256, d.certs[i].sha256);
	assert_non_null(b.key);
	assert_non_null(d.key);
	assert_int_equal(b.key->len, d.key->len);
	assert_memory_equal(b.key->data, d.key->data, b.key->len);
	pki_bundle_clear(&b);
	pki_bundle_clear(&d);

	/* Its end is found: a line break after it is tolerated, other
	 * bytes are not, and a cut one is called truncated. */
	memcpy(ber + ber_len, "\r\n", 2);
	assert_int_equal(intake_copy(ber, ber_len + 2, &b, &why), 0);
	pki_bundle_clear(&b);
	memcpy(ber + ber_len, "xy", 2);
	assert_int_equal(intake_copy(ber, ber_len + 2, &b, &why), ERR_INVALID);
	assert_int_equal(b.count, 0);
	pki_bundle_clear(&b);
	for (size_t cut = 1; cut < 40; cut++) {
		assert_int_equal(intake_copy(ber, ber_len - cut, &b, &why),
		                 ERR_INVALID);
		assert_string_equal(why, "the DER data is truncated");
		pki_bundle_clear(&b);
	}
	free(ber);
	free(der);
	pki_deinit();
}

/* ---- bounds before GnuTLS ---------------------------------------------- */

/* Appends a TLV with a definite (long or short) length to buf at *n. */
static void
put_tlv(unsigned char *buf, size_t *n, unsigned char tag, size_t len)
{
	buf[(*n)++] = tag;
	if (len < 0x80) {
		buf[(*n)++] = (unsigned char)len;
	} else if (len < 0x100) {
		buf[(*n)++] = 0x81;
		buf[(*n)++] = (unsigned char)len;
	} else {
		buf[(*n)++] = 0x82;
		buf[(*n)++] = (unsigned char)(len >> 8);
		buf[(*n)++] = (unsigned char)len;
	}
}

/* Bytes of the header put_tlv() writes for len. */
static size_t
hdr_len(size_t len)
{
	return len < 0x80 ? 2u : len < 0x100 ? 3u : 4u;
}

/*
 * A certificate-shaped SEQUENCE { SEQUENCE (tbs) { INTEGER, Name with
 * nattrs attributes, one per RDN } } into buf; its length.
 */
static size_t
cert_with_names(unsigned char *buf, size_t nattrs)
{
	static const unsigned char atv[] = { 0x31, 0x09, 0x30, 0x07, 0x06, 0x03,
		                             0x55, 0x04, 0x03, 0x0c, 0x00 };
	size_t name = nattrs * sizeof(atv), tbs, n = 0;

	tbs = 3 + hdr_len(name) + name;
	put_tlv(buf, &n, 0x30, hdr_len(tbs) + tbs);
	put_tlv(buf, &n, 0x30, tbs);
	buf[n++] = 0x02;
	buf[n++] = 0x01;
	buf[n++] = 0x01;
	put_tlv(buf, &n, 0x30, name);
	for (size_t i = 0; i < nattrs; i++) {
		memcpy(buf + n, atv, sizeof(atv));
		n += sizeof(atv);
	}
	return n;
}

static void
test_bounds(void **state)
{
	unsigned char *buf = malloc(64 * 1024);
	const char *why = NULL;
	size_t n;

	(void)state;
	assert_non_null(buf);
	n = cert_with_names(buf, DER_NAME_MAX_ATTRS);
	assert_int_equal(pki_der_cert_bounded(buf, n, &why), 0);
	n = cert_with_names(buf, DER_NAME_MAX_ATTRS + 1);
	assert_int_equal(pki_der_cert_bounded(buf, n, &why), ERR_TOO_LARGE);
	assert_string_equal(why, "the certificate's subject or issuer name "
	                         "has more attributes than allowed");
	/* A Name wider than any list may be: refused by the walk. */
	n = cert_with_names(buf, DER_MAX_CHILDREN + 1);
	assert_int_equal(pki_der_cert_bounded(buf, n, &why), ERR_TOO_LARGE);
	assert_non_null(strstr(why, "more elements"));
	assert_int_equal(pki_der_bounded(buf, n, 0, DER_MAX_CHILDREN, &why),
	                 ERR_TOO_LARGE);
	assert_int_equal(pki_der_bounded(buf, n, 0, DER_MAX_CHILDREN + 1, &why),
	                 0);
	/* Over 64 KiB: refused on the length alone, nothing read. */
	assert_int_equal(pki_der_cert_bounded(buf, DER_CERT_MAX + 1, &why),
	                 ERR_TOO_LARGE);
	assert_string_equal(why, "the certificate is larger than 64 KiB");
	/* Nesting: DER_MAX_DEPTH constructed elements are fine, one more
	 * is not. */
	for (size_t depth = DER_MAX_DEPTH; depth <= DER_MAX_DEPTH + 1;
	     depth++) {
		n = 2 * depth + 2;
		for (size_t i = 0; i < depth; i++) {
			buf[2 * i] = 0x30;
			buf[2 * i + 1] = (unsigned char)(n - 2 * (i + 1));
		}
		buf[2 * depth] = 0x05; /* NULL */
		buf[2 * depth + 1] = 0x00;
		assert_int_equal(
		    pki_der_bounded(buf, n, 0, DER_MAX_CHILDREN, &why),
		    depth <= DER_MAX_DEPTH ? 0 : ERR_TOO_LARGE);
	}
	/* Malformed inside is ERR_INVALID, not a bound. */
	buf[0] = 0x30;
	buf[1] = 0x02;
	buf[2] = 0x30;
	buf[3] = 0x05;
	assert_int_equal(pki_der_bounded(buf, 4, 0, DER_MAX_CHILDREN, &why),
	                 ERR_INVALID);
	free(buf);
}

/* ---- pki_intake_is_cheap() --------------------------------------------- */

/* A DER writer for the shapes below: contents first, then wrapped. */
struct dbuf {
	unsigned char b[8192];
	size_t n;
};

static void
dput(struct dbuf *d, const void *p, size_t n)
{
	if (n == 0)
		return;
	assert_true(d->n + n <= sizeof(d->b));
	memcpy(d->b + d->n, p, n);
	d->n += n;
}

/* tag and length in front of d's bytes. */
static void
dwrap(struct dbuf *d, unsigned char tag)
{
	unsigned char h[4];
	size_t hn;

	h[0] = tag;
	if (d->n < 128) {
		h[1] = (unsigned char)d->n;
		hn = 2;
	} else if (d->n < 256) {
		h[1] = 0x81;
		h[2] = (unsigned char)d->n;
		hn = 3;
	} else {
		h[1] = 0x82;
		h[2] = (unsigned char)(d->n >> 8);
		h[3] = (unsigned char)d->n;
		hn = 4;
	}
	assert_true(d->n + hn <= sizeof(d->b));
	memmove(d->b + hn, d->b, d->n);
	memcpy(d->b, h, hn);
	d->n += hn;
}

static void
dtlv(struct dbuf *d, unsigned char tag, const void *p, size_t n)
{
	struct dbuf t = { .n = 0 };

	dput(&t, p, n);
	dwrap(&t, tag);
	dput(d, t.b, t.n);
}

enum key_kind {
	KEY_RSA,
	KEY_RSA_PSS,
	KEY_EC,
	KEY_EC_EXPLICIT,
	KEY_ED25519,
	KEY_DSA,
};

/*
 * A certificate's DER with the right shape (nothing here checks its
 * signature): key of kind, an RSA modulus of n_bytes contents octets (a
 * leading zero then 0xff) and an exponent of e_bytes.
 */
static void
make_cert(struct dbuf *out, enum key_kind kind, size_t n_bytes, size_t e_bytes)
{
	static const unsigned char rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7,
		                             0x0d, 0x01, 0x01, 0x01 };
	static const unsigned char pss[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7,
		                             0x0d, 0x01, 0x01, 0x0a };
	static const unsigned char sha256rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7,
		                                   0x0d, 0x01, 0x01, 0x0b };
	static const unsigned char ec[] = { 0x2a, 0x86, 0x48, 0xce,
		                            0x3d, 0x02, 0x01 };
	static const unsigned char p256[] = { 0x2a, 0x86, 0x48, 0xce,
		                              0x3d, 0x03, 0x01, 0x07 };
	static const unsigned char ed25519[] = { 0x2b, 0x65, 0x70 };
	static const unsigned char dsa[] = { 0x2a, 0x86, 0x48, 0xce,
		                             0x38, 0x04, 0x01 };
	static const unsigned char cn[] = { 0x55, 0x04, 0x03 };
	unsigned char big[600], pt[65] = { 0x04 };
	struct dbuf tbs = { .n = 0 }, t = { .n = 0 }, alg = { .n = 0 },
	            name = { .n = 0 }, spki = { .n = 0 }, key = { .n = 0 };

	/* AlgorithmIdentifier sha256WithRSAEncryption */
	dtlv(&alg, DER_OID, sha256rsa, sizeof(sha256rsa));
	dtlv(&alg, DER_NULL, NULL, 0);
	dwrap(&alg, DER_SEQUENCE);
	/* Name: CN=x */
	dtlv(&name, DER_OID, cn, sizeof(cn));
	dtlv(&name, 0x0c, "x", 1);
	dwrap(&name, DER_SEQUENCE);
	dwrap(&name, DER_SET);
	dwrap(&name, DER_SEQUENCE);
	/* SubjectPublicKeyInfo */
	switch (kind) {
	case KEY_RSA:
	case KEY_RSA_PSS:
		dtlv(&spki, DER_OID, kind == KEY_RSA ? rsa : pss, sizeof(rsa));
		if (kind == KEY_RSA)
			dtlv(&spki, DER_NULL, NULL, 0);
		dwrap(&spki, DER_SEQUENCE);
		assert_true(n_bytes <= sizeof(big) && e_bytes <= sizeof(big));
		memset(big, 0xff, sizeof(big));
		big[0] = 0;
		dtlv(&key, DER_INTEGER, big, n_bytes);
		memset(big, 0x01, sizeof(big));
		dtlv(&key, DER_INTEGER, big, e_bytes);
		dwrap(&key, DER_SEQUENCE);
		break;
	case KEY_EC:
	case KEY_EC_EXPLICIT:
		dtlv(&spki, DER_OID, ec, sizeof(ec));
		if (kind == KEY_EC) {
			dtlv(&spki, DER_OID, p256, sizeof(p256));
		} else {
			dtlv(&t, DER_INTEGER, "\x01", 1);
			dwrap(&t, DER_SEQUENCE);
			dput(&spki, t.b, t.n);
		}
		dwrap(&spki, DER_SEQUENCE);
		dput(&key, pt, sizeof(pt));
		break;
	case KEY_ED25519:
		dtlv(&spki, DER_OID, ed25519, sizeof(ed25519));
		dwrap(&spki, DER_SEQUENCE);
		dput(&key, pt, 32);
		break;
	case KEY_DSA:
		dtlv(&spki, DER_OID, dsa, sizeof(dsa));
		dwrap(&spki, DER_SEQUENCE);
		dtlv(&key, DER_INTEGER, "\x05", 1);
		break;
	}
	/* the BIT STRING: no unused bits, then the key */
	t.n = 0;
	dput(&t, "\0", 1);
	dput(&t, key.b, key.n);
	dwrap(&t, 0x03);
	dput(&spki, t.b, t.n);
	dwrap(&spki, DER_SEQUENCE);
	/* TBSCertificate */
	t.n = 0;
	dtlv(&t, DER_INTEGER, "\x02", 1);
	dwrap(&t, DER_CTX0);
	dput(&tbs, t.b, t.n);
	dtlv(&tbs, DER_INTEGER, "\x01", 1);
	dput(&tbs, alg.b, alg.n);
	dput(&tbs, name.b, name.n);
	t.n = 0;
	dtlv(&t, 0x17, "260101000000Z", 13);
	dtlv(&t, 0x17, "360101000000Z", 13);
	dwrap(&t, DER_SEQUENCE);
	dput(&tbs, t.b, t.n);
	dput(&tbs, name.b, name.n);
	dput(&tbs, spki.b, spki.n);
	dwrap(&tbs, DER_SEQUENCE);
	/* Certificate */
	out->n = 0;
	dput(out, tbs.b, tbs.n);
	dput(out, alg.b, alg.n);
	dtlv(out, 0x03, "\0\x01\x02", 3);
	dwrap(out, DER_SEQUENCE);
}

/* der as a PEM CERTIFICATE block appended to text. */
static void
put_pem(struct dbuf *text, const struct dbuf *der)
{
	gnutls_datum_t d = { (unsigned char *)der->b, (unsigned)der->n };
	gnutls_datum_t pem = { NULL, 0 };

	assert_int_equal(gnutls_pem_base64_encode2("CERTIFICATE", &d, &pem), 0);
	dput(text, pem.data, pem.size);
	gnutls_free(pem.data);
}

/* pki_intake_is_cheap() of text, fed as an exact-size heap copy. */
static bool
cheap(const struct dbuf *text, size_t max_certs)
{
	unsigned char *c = heap_copy(text->b, text->n);
	bool r = pki_intake_is_cheap(c, text->n, max_certs);

	free(c);
	return r;
}

/* One certificate of kind alone. */
static bool
cheap_one(enum key_kind kind, size_t n_bytes, size_t e_bytes)
{
	struct dbuf der, text = { .n = 0 };

	make_cert(&der, kind, n_bytes, e_bytes);
	put_pem(&text, &der);
	return cheap(&text, 8);
}

static void
test_intake_is_cheap(void **state)
{
	struct dbuf der, text = { .n = 0 };

	(void)state;
	/* keys whose checks are bounded */
	assert_true(cheap_one(KEY_RSA, 257, 3)); /* RSA-2048, 65537 */
	assert_true(cheap_one(KEY_RSA, 513, 8)); /* RSA-4096, 64 bits */
	assert_true(cheap_one(KEY_RSA_PSS, 385, 3));
	assert_true(cheap_one(KEY_EC, 0, 0));
	assert_true(cheap_one(KEY_ED25519, 0, 0));
	/* and the others */
	assert_false(cheap_one(KEY_RSA, 514, 3)); /* over 4,096 bits */
	assert_false(cheap_one(KEY_RSA, 257, 9)); /* a long exponent */
	assert_false(cheap_one(KEY_RSA, 257, 256));
	assert_false(cheap_one(KEY_EC_EXPLICIT, 0, 0));
	assert_false(cheap_one(KEY_DSA, 0, 0));

	/* up to max_certs blocks, white space around them */
	make_cert(&der, KEY_RSA, 257, 3);
	dput(&text, "\r\n \t", 4);
	for (size_t i = 0; i < 3; i++) {
		put_pem(&text, &der);
		dput(&text, "\r\n", 2);
	}
	assert_true(cheap(&text, 3));
	assert_true(cheap(&text, 8));
	assert_false(cheap(&text, 2));
	assert_false(cheap(&text, 0));

	/* anything else in the text */
	{
		struct dbuf t2 = text;

		dput(&t2, "x", 1);
		assert_false(cheap(&t2, 8));
		t2.n = 0;
		dput(&t2, "subject=CN = x\n", 15);
		dput(&t2, text.b, text.n);
		assert_false(cheap(&t2, 8));
		t2.n = 0;
		dput(&t2, text.b, text.n);
		dput(&t2,
		     "-----BEGIN PRIVATE KEY-----\nAAAA\n"
		     "-----END PRIVATE KEY-----\n",
		     59);
		assert_false(cheap(&t2, 8));
		/* a block cut short */
		t2.n = 0;
		dput(&t2, text.b, text.n - 10);
		assert_false(cheap(&t2, 8));
		/* base64 that is not a certificate */
		t2.n = 0;
		dput(&t2,
		     "-----BEGIN CERTIFICATE-----\nQUJD\n"
		     "-----END CERTIFICATE-----\n",
		     59);
		assert_false(cheap(&t2, 8));
		/* nothing */
		t2.n = 0;
		assert_false(cheap(&t2, 8));
		dput(&t2, " \n", 2);
		assert_false(cheap(&t2, 8));
	}
	/* DER, not PEM */
	assert_false(cheap(&der, 8));
	assert_false(pki_intake_is_cheap(NULL, 0, 8));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_table),
		cmocka_unit_test(test_ber_depth),
		cmocka_unit_test(test_definite_nesting),
		cmocka_unit_test(test_one),
		cmocka_unit_test(test_take_and_peek),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_base64_vs_gnutls),
		cmocka_unit_test(test_base64_text),
		cmocka_unit_test(test_find_bytes),
		cmocka_unit_test(test_ber_pkcs12),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_intake_is_cheap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
