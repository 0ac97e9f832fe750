/*
 * fuzz_der.c: libFuzzer target for the DER/BER reader and the base64
 * decoder (pki/der.c), and for the two public readers built on it that
 * need no password: pki_cert_parse() and pki_p12_mac_iterations().
 *
 * Checks what the reader promises on any input: every element it returns
 * lies inside its parent, header and contents add up to what it took, a
 * failed read leaves the cursor alone, DER mode never accepts what BER
 * mode refuses, and the whole tree can be walked to a fixed depth. For
 * base64: a decode succeeds only on base64 text, and what it gives back
 * decodes the same once re-encoded. Seeds: corpus/der/ (a certificate, a
 * PKCS#7, a PKCS#12, a BER PFX header and a base64 certificate).
 *
 * Built by -DAMTCERTD_FUZZ=ON (clang); scripts/test.sh runs it briefly:
 *   cp -r tests/fuzz/corpus/der /tmp/corpus
 *   build-fuzz/fuzz_der -max_total_time=60 /tmp/corpus
 */
#include "common/err.h"
#include "common/log.h"
#include "pki/der.h"
#include "pki/pki.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* How deep the walk below follows constructed elements. */
#define WALK_DEPTH 24

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* e inside [lo, hi), its parts adding up. */
static void
check_tlv(const struct der_tlv *e, const unsigned char *lo,
          const unsigned char *hi)
{
	if (e->start < lo || e->total > (size_t)(hi - e->start) || e->hdr < 2 ||
	    e->hdr > 6 || e->contents.p != e->start + e->hdr ||
	    e->total != e->hdr + e->contents.len + (e->indefinite ? 2u : 0u))
		abort();
	if (e->indefinite && !(e->tag & 0x20))
		abort();
}

/* Every element of in, and inside every constructed one, to depth. */
static void
walk(struct der in, unsigned flags, unsigned depth)
{
	const unsigned char *lo = in.p, *hi = in.p + in.len;

	while (in.len > 0) {
		struct der before = in;
		struct der_tlv e;
		unsigned v;

		if (pki_der_next(&in, flags, &e) < 0) {
			if (in.p != before.p || in.len != before.len)
				abort();
			return;
		}
		check_tlv(&e, lo, hi);
		if (in.p != e.start + e.total)
			abort();
		if (e.tag == DER_INTEGER &&
		    pki_der_uint(&e.contents, &v) == 0 && e.contents.len == 0)
			abort();
		if ((e.tag & 0x20) && depth < WALK_DEPTH)
			walk(e.contents, flags, depth + 1);
	}
}

static void
check_der(const uint8_t *data, size_t size)
{
	struct der in = { data, size };
	struct der_tlv strict, ber;
	int rs, rb;

	rs = pki_der_next(&in, 0, &strict);
	in.p = data;
	in.len = size;
	rb = pki_der_next(&in, DER_BER, &ber);
	/* DER is a subset of BER, read the same way. */
	if (rs == 0 && (rb != 0 || ber.total != strict.total ||
	                ber.contents.len != strict.contents.len))
		abort();
	if (rb == 0)
		check_tlv(&ber, data, data + size);
	if (pki_der_one(data, size, 0, 0, &strict) == 0 &&
	    (rs != 0 || strict.total != size))
		abort();
	walk((struct der){ data, size }, 0, 0);
	walk((struct der){ data, size }, DER_BER, 0);
}

static char *
b64_encode(const unsigned char *p, size_t n)
{
	char *s = malloc((n + 2) / 3 * 4 + 1), *w = s;

	if (!s)
		abort();
	for (size_t i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*w++ = B64[(v >> 18) & 63];
		*w++ = B64[(v >> 12) & 63];
		*w++ = i + 1 < n ? B64[(v >> 6) & 63] : '=';
		*w++ = i + 2 < n ? B64[v & 63] : '=';
	}
	*w = '\0';
	return s;
}

static void
check_base64(const uint8_t *data, size_t size)
{
	unsigned char *out = NULL, *again = NULL;
	size_t n = 0, m = 0;
	char *text;

	if (pki_base64_decode(data, size, &out, &n) != 0)
		return;
	if (!pki_is_base64_text(data, size) || n == 0)
		abort();
	text = b64_encode(out, n);
	if (pki_base64_decode((const unsigned char *)text, strlen(text), &again,
	                      &m) != 0 ||
	    m != n || memcmp(out, again, n) != 0)
		abort();
	free(text);
	free(out);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct pki_cert *cert = NULL;
	struct pki_secret pfx;
	const char *why = NULL;
	unsigned iter = 0;

	if (!ready) {
		log_set_level(LOG_LEVEL_ERROR);
		if (pki_init() != 0)
			abort();
		ready = true;
	}
	check_der(data, size);
	check_base64(data, size);

	if (size > 0 && pki_cert_parse(data, size, &cert, &why) == 0) {
		if (cert->der_len != size)
			abort();
		pki_cert_free(cert);
	}
	pfx.data = (unsigned char *)(uintptr_t)data;
	pfx.len = size;
	if (size > 0)
		(void)pki_p12_mac_iterations(&pfx, &iter);
	return 0;
}
