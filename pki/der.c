/*
 * der.c: the one reader of DER (and BER where asked) for pki/, and of the
 * base64 text that carries it. Everything it reads is hostile: uploads,
 * pasted CSRs, PFX files.
 *
 * Why a small reader of our own and not libtasn1. What pki/ asks of DER
 * before GnuTLS sees it is little and shallow: is this exactly one
 * SEQUENCE with nothing after it (certificates, CSRs, PFX files); where
 * does a BER upload end and what is its first element (intake's
 * dispatch); which bytes are the TBSCertificate and the
 * SubjectPublicKeyInfo (signature checks, keys GnuTLS cannot import); and
 * the algorithm identifiers of our own PFX (the PBES2 PRF, which no
 * GnuTLS 3.7 call reports). libtasn1 answers none of these without an
 * ASN.1 module compiled into the tree for each structure (PKIX1, PKCS#7,
 * PKCS#12, PBES2) and a decoded node tree per input; its TLV primitives
 * (asn1_get_tag_der, asn1_get_length_der) take int lengths, accept
 * non-minimal length octets and would still leave the walking to us, plus
 * a new build dependency. GnuTLS already decodes everything in full with
 * libtasn1 afterwards; this reader only has to be strict and bounded, and
 * a page of code that is unit-tested and fuzzed on its own
 * (tests/unit/test_der.c, tests/fuzz/fuzz_der.c) does that.
 *
 * Rules: definite lengths that fit in the bytes given, in at most four
 * octets (no input here comes near 4 GiB, and no sum can wrap); tag
 * numbers below 31 (nothing in X.509, PKCS#7 or PKCS#12 uses more); DER
 * lengths minimal. BER, which intake needs because Windows and Java write
 * PKCS#12 (and CMS tools PKCS#7) with indefinite lengths, adds the
 * indefinite form on constructed elements and longer length octets; an
 * indefinite element is followed to its end mark without recursion, at
 * most DER_MAX_DEPTH open at once, in time linear in its size.
 *
 * Base64 is decoded here too, with a table in one pass (see
 * pki_base64_decode()): GnuTLS's decoder needed a pass before it that
 * kept only the symbols (its own silently stops at the first '-', skips
 * only some white space and needs the padding, which bare base64 from CA
 * APIs often lacks), and the two cost 13% of an inspection.
 * gnutls_pem_base64_decode2() is not used: it matches a BEGIN label by
 * prefix ("CERTIFICATE" finds "CERTIFICATE REQUEST") and never checks the
 * END label, so intake and the CSR reader find their PEM blocks themselves.
 */
#include "pki/der.h"
#include "pki/internal.h"

#include "common/err.h"
#include "common/util.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- TLV reader -------------------------------------------------------- */

/*
 * The identifier and length octets at p[0..avail) into el (start, tag,
 * hdr, indefinite, contents.len when definite). 0 or ERR_INVALID with
 * el->truncated when more bytes were needed.
 */
static int
read_header(const unsigned char *p, size_t avail, unsigned flags,
            struct der_tlv *el)
{
	size_t n, len = 0;

	memset(el, 0, sizeof(*el));
	el->start = p;
	if (avail < 2) {
		el->truncated = true;
		return ERR_INVALID;
	}
	/* High tag numbers, and tag 0 (the end mark) as an element. */
	if ((p[0] & 0x1f) == 0x1f || p[0] == 0)
		return ERR_INVALID;
	el->tag = p[0];
	if (p[1] < 0x80) {
		el->hdr = 2;
		len = p[1];
	} else if (p[1] == 0x80) {
		if (!(flags & DER_BER) || !(p[0] & 0x20))
			return ERR_INVALID;
		el->hdr = 2;
		el->indefinite = true;
		return 0;
	} else {
		n = p[1] & 0x7fu;
		/* Five or more octets, and the reserved 0xff (X.690
		 * 8.1.3.5). */
		if (n > 4)
			return ERR_INVALID;
		if (avail - 2 < n) {
			el->truncated = true;
			return ERR_INVALID;
		}
		for (size_t i = 0; i < n; i++)
			len = (len << 8) | p[2 + i];
		/* DER: the fewest length octets, so no leading zero and no
		 * long form below 128. */
		if (!(flags & DER_BER) && (p[2] == 0 || len < 0x80))
			return ERR_INVALID;
		el->hdr = 2 + n;
	}
	if (len > avail - el->hdr) {
		el->truncated = true;
		return ERR_INVALID;
	}
	el->contents.len = len;
	return 0;
}

/*
 * Follows the contents of an indefinite-length element (p[0..avail), just
 * after its header) to its end mark: *len is the contents' length, the
 * end mark excluded. Definite children are skipped by their length; only
 * indefinite ones are entered, so one counter is the whole stack.
 */
static int
ber_find_end(const unsigned char *p, size_t avail, size_t *len, bool *truncated)
{
	size_t pos = 0;
	unsigned depth = 1;

	for (;;) {
		struct der_tlv c;

		if (avail - pos >= 2 && p[pos] == 0 && p[pos + 1] == 0) {
			pos += 2;
			if (--depth == 0) {
				*len = pos - 2;
				return 0;
			}
			continue;
		}
		if (read_header(p + pos, avail - pos, DER_BER, &c) < 0) {
			*truncated = c.truncated;
			return ERR_INVALID;
		}
		if (c.indefinite) {
			if (++depth > DER_MAX_DEPTH)
				return ERR_INVALID;
			pos += c.hdr;
		} else {
			pos += c.hdr + c.contents.len;
		}
	}
}

int
pki_der_next(struct der *in, unsigned flags, struct der_tlv *el)
{
	size_t len;
	int ret;

	if (!in || !el || (!in->p && in->len > 0))
		return ERR_INVALID;
	ret = read_header(in->p, in->len, flags, el);
	if (ret < 0)
		return ret;
	el->contents.p = in->p + el->hdr;
	if (el->indefinite) {
		ret = ber_find_end(el->contents.p, in->len - el->hdr, &len,
		                   &el->truncated);
		if (ret < 0)
			return ret;
		el->contents.len = len;
		el->total = el->hdr + len + 2;
	} else {
		el->total = el->hdr + el->contents.len;
	}
	in->p += el->total;
	in->len -= el->total;
	return 0;
}

int
pki_der_take(struct der *in, unsigned char tag, struct der *val)
{
	struct der rest;
	struct der_tlv el;

	if (!in || !val)
		return ERR_INVALID;
	rest = *in;
	if (pki_der_next(&rest, 0, &el) < 0 || el.tag != tag)
		return ERR_INVALID;
	*in = rest;
	*val = el.contents;
	return 0;
}

bool
pki_der_peek(const struct der *in, unsigned char tag)
{
	return in && in->len > 0 && in->p[0] == tag;
}

int
pki_der_one(const unsigned char *p, size_t len, unsigned char tag,
            unsigned flags, struct der_tlv *el)
{
	struct der in = { p, len };
	int ret;

	ret = pki_der_next(&in, flags, el);
	if (ret < 0)
		return ret;
	if ((tag != 0 && el->tag != tag) || in.len != 0)
		return ERR_INVALID;
	return 0;
}

int
pki_der_uint(const struct der *v, unsigned *out)
{
	unsigned long long x = 0;

	if (!v || !out || v->len == 0 || v->len > 5 || (v->p[0] & 0x80))
		return ERR_INVALID;
	/* Minimal: a leading zero only in front of a byte with its top bit
	 * set. */
	if (v->len > 1 && v->p[0] == 0 && !(v->p[1] & 0x80))
		return ERR_INVALID;
	for (size_t i = 0; i < v->len; i++)
		x = (x << 8) | v->p[i];
	if (x > UINT_MAX)
		return ERR_INVALID;
	*out = (unsigned)x;
	return 0;
}

bool
pki_der_oid_is(const struct der *v, const unsigned char *oid, size_t len)
{
	return v && v->len == len && memcmp(v->p, oid, len) == 0;
}

/* ---- bounds -------------------------------------------------------------- */

int
pki_der_bounded(const unsigned char *p, size_t len, unsigned flags,
                size_t max_children, const char **why)
{
	struct der open[DER_MAX_DEPTH + 1];
	size_t count[DER_MAX_DEPTH + 1];
	size_t top = 0;

	if (!p && len > 0)
		return ERR_INVALID;
	open[0] = (struct der){ p, len };
	count[0] = 0;
	for (;;) {
		struct der_tlv el;

		if (open[top].len == 0) {
			if (top == 0)
				return 0;
			top--;
			continue;
		}
		if (pki_der_next(&open[top], flags, &el) < 0)
			return ERR_INVALID;
		if (++count[top] > max_children) {
			if (why)
				*why = "a list in it has more elements than "
				       "allowed";
			return ERR_TOO_LARGE;
		}
		if (!(el.tag & 0x20) || el.contents.len == 0)
			continue;
		if (top == DER_MAX_DEPTH) {
			if (why)
				*why = "its elements are nested deeper than "
				       "allowed";
			return ERR_TOO_LARGE;
		}
		open[++top] = el.contents;
		count[top] = 0;
	}
}

/*
 * Attributes of el when it is a Name (a SEQUENCE whose first element is a
 * SET: nothing else directly inside a TBSCertificate or a
 * CertificationRequestInfo looks like that), else 0.
 */
static size_t
name_attrs(const struct der_tlv *el)
{
	struct der rdns = el->contents;
	size_t n = 0;

	if (el->tag != DER_SEQUENCE || !pki_der_peek(&rdns, DER_SET))
		return 0;
	while (rdns.len > 0) {
		struct der_tlv rdn, atv;
		struct der in;

		if (pki_der_next(&rdns, 0, &rdn) < 0 || rdn.tag != DER_SET)
			return n;
		in = rdn.contents;
		while (in.len > 0 && pki_der_next(&in, 0, &atv) == 0)
			n++;
	}
	return n;
}

int
pki_der_cert_bounded(const unsigned char *p, size_t len, const char **why)
{
	struct der_tlv outer, tbs, el;
	struct der in;
	int ret;

	if (len > DER_CERT_MAX) {
		if (why)
			*why = "the certificate is larger than 64 KiB";
		return ERR_TOO_LARGE;
	}
	ret = pki_der_one(p, len, DER_SEQUENCE, 0, &outer);
	if (ret < 0)
		return ret;
	ret = pki_der_bounded(p, len, 0, DER_MAX_CHILDREN, why);
	if (ret == ERR_TOO_LARGE && why)
		*why = "the certificate has a list with more elements, or "
		       "elements nested deeper, than allowed";
	if (ret < 0)
		return ret;
	in = outer.contents;
	if (pki_der_next(&in, 0, &tbs) < 0 || tbs.tag != DER_SEQUENCE)
		return ERR_INVALID;
	in = tbs.contents;
	while (in.len > 0 && pki_der_next(&in, 0, &el) == 0) {
		if (name_attrs(&el) > DER_NAME_MAX_ATTRS) {
			if (why)
				*why = "the certificate's subject or issuer "
				       "name has more attributes than allowed";
			return ERR_TOO_LARGE;
		}
	}
	return 0;
}

/* ---- base64 text -------------------------------------------------------- */

/*
 * Base64 is decoded here, in one pass over the text with a table, into
 * the caller's buffer. It was GnuTLS's gnutls_base64_decode2() after a
 * pass that copied the symbols out (two allocations, two copies and a
 * wipe per certificate: 13% of an inspection). The rules are the ones the
 * two passes made together, and tests/unit/test_der.c compares both on
 * random text: white space (space, tab, CR, LF, VT, FF) anywhere is
 * skipped; '=' only at the end, and then exactly the padding the last
 * group needs (one for three symbols, two for two, never for four);
 * without padding a last group of two or three symbols is whole, of one
 * is not; the bits after the last byte must be zero; at least one byte.
 */

/* A symbol's value 0-63, or one of these. */
#define B64_PAD   64
#define B64_SPACE 65
#define B64_BAD   255

/* clang-format off */
static const unsigned char b64_table[256] = {
#define B64_ROW_BAD B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, \
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,     \
	B64_BAD, B64_BAD, B64_BAD
	/* 0x00 */ B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_SPACE, B64_SPACE, B64_SPACE, B64_SPACE,
	B64_SPACE, B64_BAD, B64_BAD,
	/* 0x10 */ B64_ROW_BAD,
	/* 0x20 */ B64_SPACE, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, 62, B64_BAD, B64_BAD,
	B64_BAD, 63,
	/* 0x30 */ 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, B64_BAD, B64_BAD,
	B64_BAD, B64_PAD, B64_BAD, B64_BAD,
	/* 0x40 */ B64_BAD, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	/* 0x50 */ 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD,
	/* 0x60 */ B64_BAD, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
	39, 40,
	/* 0x70 */ 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD,
	/* 0x80-0xff */ B64_ROW_BAD, B64_ROW_BAD, B64_ROW_BAD, B64_ROW_BAD,
	B64_ROW_BAD, B64_ROW_BAD, B64_ROW_BAD, B64_ROW_BAD,
#undef B64_ROW_BAD
};
/* clang-format on */

bool
pki_is_base64_text(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (b64_table[p[i]] == B64_BAD)
			return false;
	}
	return true;
}

int
pki_base64_decode(const unsigned char *text, size_t len, unsigned char **out,
                  size_t *out_len)
{
	unsigned char *buf, *w;
	uint32_t acc = 0;
	size_t nsym = 0, pad = 0, cap;
	unsigned group = 0; /* symbols in acc */
	int ret = ERR_INVALID;

	if ((!text && len > 0) || !out || !out_len)
		return ERR_INVALID;
	/* as before, when GnuTLS counted the text in an int */
	if (len > INT_MAX - 4)
		return ERR_INVALID;
	cap = len / 4 * 3 + 3;
	buf = malloc(cap);
	if (!buf)
		return ERR_NOMEM;
	w = buf;
	for (size_t i = 0; i < len; i++) {
		unsigned v = b64_table[text[i]];

		if (v < B64_PAD) {
			if (pad > 0)
				goto cleanup; /* a symbol after '=' */
			acc = acc << 6 | v;
			nsym++;
			if (++group == 4) {
				w[0] = (unsigned char)(acc >> 16);
				w[1] = (unsigned char)(acc >> 8);
				w[2] = (unsigned char)acc;
				w += 3;
				acc = 0;
				group = 0;
			}
		} else if (v == B64_PAD) {
			pad++;
		} else if (v != B64_SPACE) {
			goto cleanup;
		}
	}
	/* The last group: two or three symbols, padded exactly or not at
	 * all; or none, and then no padding. */
	if (nsym == 0 || group == 1 || (pad > 0 && pad != 4 - group) ||
	    (group == 0 && pad > 0))
		goto cleanup;
	if (group == 2) {
		if (acc & 0xf)
			goto cleanup; /* bits after the last byte */
		*w++ = (unsigned char)(acc >> 4);
	} else if (group == 3) {
		if (acc & 0x3)
			goto cleanup;
		w[0] = (unsigned char)(acc >> 10);
		w[1] = (unsigned char)(acc >> 2);
		w += 2;
	}
	*out = buf;
	*out_len = (size_t)(w - buf);
	return 0;
cleanup:
	util_wipe(buf, cap);
	free(buf);
	return ret;
}

const unsigned char *
pki_find_bytes(const unsigned char *hay, size_t hay_len, const char *needle)
{
	size_t n = strlen(needle);
	const unsigned char *p = hay, *end;

	if (n == 0 || n > hay_len)
		return NULL;
	end = hay + (hay_len - n);
	while (p <= end) {
		p = memchr(p, needle[0], (size_t)(end - p) + 1);
		if (!p)
			return NULL;
		if (memcmp(p, needle, n) == 0)
			return p;
		p++;
	}
	return NULL;
}
