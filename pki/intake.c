/*
 * intake.c: reading whatever a CA delivers.
 *
 * pki_intake_add() finds every certificate in one upload by its content:
 * zip archives (libarchive, zip only), PEM text, DER, bare base64, PKCS#7
 * SignedData and PKCS#12. Everything here reads hostile bytes, so:
 *
 *  - every size is bounded by the caller's struct pki_intake_limits and
 *    checked as bytes are produced; a zip entry's declared size is never
 *    believed, and every entry is read through the same capped reader (even
 *    the ones skipped, so libarchive never inflates unseen data);
 *  - recursion is bounded: zip in zip up to max_depth (and never more than
 *    INTAKE_MAX_DEPTH), bare base64 is unwrapped once, a PEM block is never
 *    searched for PEM again;
 *  - work is linear in the input: PEM text is scanned once, duplicates are
 *    found among at most max_certs certificates, a PKCS#7 or PKCS#12 listing
 *    more than max_certs certificates is refused before they are walked, and
 *    all PKCS#12 key derivations of one input share a budget of iterations;
 *  - DER is read only through pki/der.c (BER, with its nesting bounded,
 *    only to find where an upload ends and what it starts with), and
 *    base64 only through pki_base64_decode(), whose output is wiped like
 *    every buffer here that may hold a key;
 *  - failures on such input are the uploader's fault: GnuTLS and libarchive
 *    codes are logged at debug level only.
 *
 * What a zip member that holds nothing usable becomes: a note (source
 * "upload.zip!readme.txt", message "skipped: no certificate in it"), and
 * whatever the member had added before failing is taken back out.
 */
#include "pki/pki.h"
#include "pki/der.h"
#include "pki/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Zip nesting never goes deeper than this, whatever max_depth says: each
 * level is a stack frame and a buffer. */
#define INTAKE_MAX_DEPTH 8
/* Notes kept per bundle; the last one says that more were left out. */
#define INTAKE_MAX_NOTES 100
/* Bytes of a source label ("upload.zip!dir/file.pem#2"). */
#define INTAKE_MAX_SOURCE 512
/* A zip may always unpack to this much, whatever its ratio: a tiny archive
 * of text is not a bomb. */
#define INTAKE_RATIO_SLACK (64 * 1024)
/* Bytes asked of libarchive at a time. */
#define INTAKE_CHUNK (64 * 1024)
/* ContentInfos of a PKCS#12 (OpenSSL writes 2, Windows 2 or 3). */
#define INTAKE_MAX_P12_BAGS 32
/*
 * PBKDF iterations all PKCS#12 key derivations of one input may use
 * together. GnuTLS 3.7 itself writes 600000 per derivation (MAC, each bag,
 * the key) and a missing password costs two tries of the MAC.
 */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define INTAKE_KDF_BUDGET 100000u
#else
#define INTAKE_KDF_BUDGET 8000000u
#endif
#define PEM_MAX_LABEL 64

#define PEM_BEGIN  "-----BEGIN "
#define PEM_END    "-----END "
#define PEM_DASHES "-----"

/* What the DER dispatcher may accept. */
#define DER_CERT  1u
#define DER_PKCS7 2u
#define DER_P12   4u
#define DER_ANY   (DER_CERT | DER_PKCS7 | DER_P12)

static const char WHY_UNRECOGNIZED[] =
    "expected a certificate (PEM, DER or base64), a PKCS#7 (.p7b), a "
    "PKCS#12 (.pfx/.p12) or a zip of these";
static const char WHY_EMPTY[] = "the upload is empty";
static const char WHY_CSR[] =
    "this is a certificate request (CSR), not a certificate";
static const char WHY_DER_KEY[] =
    "this is a private key, not a certificate; upload a PKCS#12";
static const char WHY_P12_DAMAGED[] = "the PKCS#12 is damaged";
static const char WHY_P12_WRONG[] = "the PKCS#12 password is wrong";
static const char WHY_P12_NEEDED[] = "this PKCS#12 needs a password";
static const char WHY_ZIP_DAMAGED[] = "the zip archive is damaged or truncated";

struct intake_ctx {
	struct pki_bundle *b;
	const struct pki_intake_limits *lim;
	const char *password;
	unsigned max_depth;     /* min(lim->max_depth, INTAKE_MAX_DEPTH) */
	size_t entries;         /* zip entries seen in this input */
	size_t found;           /* certificates (new or not) and keys taken */
	unsigned long kdf_left; /* PKCS#12 iterations left */
	unsigned char *chunk;   /* INTAKE_CHUNK bytes for libarchive */
	const char *why;        /* static reason of the last failure */
	bool key_failed;        /* a private key was found but not read */
};

/* What a failed zip member takes back out of the bundle. */
struct intake_mark {
	size_t count;
	size_t duplicates;
	size_t note_count;
	size_t found;
	bool had_key;
};

static int intake_any(struct intake_ctx *ctx, const unsigned char *data,
                      size_t len, const char *src, unsigned level);

static int
intake_fail(struct intake_ctx *ctx, int err, const char *why)
{
	ctx->why = why;
	return err;
}

/*
 * A private key that was sent but cannot be read fails the whole input,
 * even inside a zip or beside certificates: a key is taken or refused,
 * never dropped with a note.
 */
static int
key_fail(struct intake_ctx *ctx, int err, const char *why)
{
	if (err == ERR_INVALID || err == ERR_PASSWORD || err == ERR_TOO_LARGE)
		ctx->key_failed = true;
	return intake_fail(ctx, err, why);
}

/* Translates a GnuTLS failure on untrusted input. */
static int
intake_gnutls_fail(struct intake_ctx *ctx, const char *step, int gret,
                   const char *why)
{
	int ret = pki_err_from_input(gret, step);

	return ret == ERR_INVALID ? intake_fail(ctx, ret, why) : ret;
}

/* intake_gnutls_fail() for a private key: see key_fail(). */
static int
key_gnutls_fail(struct intake_ctx *ctx, const char *step, int gret,
                const char *why)
{
	int ret = pki_err_from_input(gret, step);

	return ret == ERR_INVALID ? key_fail(ctx, ret, why) : ret;
}

/* Wipes (it may hold a PKCS#12 or a key) and frees. NULL is a no-op. */
static void
buf_free(unsigned char *p, size_t len)
{
	if (!p)
		return;
	util_wipe(p, len);
	free(p);
}

/* ---- bundle ----------------------------------------------------------- */

void
pki_bundle_init(struct pki_bundle *b)
{
	if (b)
		memset(b, 0, sizeof(*b));
}

static void
found_cert_clear(struct pki_found_cert *c)
{
	free(c->der);
	free(c->source);
	free(c->format);
	pki_cert_free(c->cert);
	memset(c, 0, sizeof(*c));
}

void
pki_bundle_clear(struct pki_bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->count; i++)
		found_cert_clear(&b->certs[i]);
	free(b->certs);
	for (size_t i = 0; i < b->note_count; i++) {
		free(b->notes[i].source);
		free(b->notes[i].message);
	}
	free(b->notes);
	pki_secret_free(b->key);
	memset(b, 0, sizeof(*b));
}

/*
 * Makes room for one more element in an array whose capacity is implied by
 * its count: 4, then doubled each time count reaches a power of two. Never
 * shrinks below what count needs, so taking elements back out stays valid.
 */
static int
array_reserve(void **arr, size_t count, size_t elem)
{
	size_t want;
	void *p;

	if (count == 0)
		want = 4;
	else if (count >= 4 && (count & (count - 1)) == 0)
		want = count * 2;
	else
		return 0;
	if (want > SIZE_MAX / elem)
		return ERR_NOMEM;
	p = realloc(*arr, want * elem);
	if (!p)
		return ERR_NOMEM;
	*arr = p;
	return 0;
}

static void
bundle_mark(const struct intake_ctx *ctx, struct intake_mark *m)
{
	m->count = ctx->b->count;
	m->duplicates = ctx->b->duplicates;
	m->note_count = ctx->b->note_count;
	m->found = ctx->found;
	m->had_key = ctx->b->key != NULL;
}

static void
bundle_rollback(struct intake_ctx *ctx, const struct intake_mark *m)
{
	struct pki_bundle *b = ctx->b;

	while (b->count > m->count)
		found_cert_clear(&b->certs[--b->count]);
	while (b->note_count > m->note_count) {
		b->note_count--;
		free(b->notes[b->note_count].source);
		free(b->notes[b->note_count].message);
	}
	b->duplicates = m->duplicates;
	if (!m->had_key && b->key) {
		pki_secret_free(b->key);
		b->key = NULL;
		memset(b->key_source, 0, sizeof(b->key_source));
		memset(b->key_format, 0, sizeof(b->key_format));
	}
	ctx->found = m->found;
}

/* ---- source labels ---------------------------------------------------- */

/*
 * Appends s[0..n) to out[*pos..cap) as printable UTF-8: control bytes and
 * invalid sequences become '?'. Stops at a character boundary; false when
 * it had to.
 */
static bool
src_append(char *out, size_t cap, size_t *pos, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t l = util_utf8_char(u + i, n - i, &cp);

		if (l == 0 || (l == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
			if (*pos + 1 > cap)
				return false;
			out[(*pos)++] = '?';
			i++;
			continue;
		}
		if (*pos + l > cap)
			return false;
		memcpy(out + *pos, s + i, l);
		*pos += l;
		i += l;
	}
	return true;
}

/*
 * A new source label: parent + sep + a printable copy of child[0..n),
 * at most INTAKE_MAX_SOURCE bytes ("..." marks a cut). NULL on ENOMEM.
 */
static char *
src_make(const char *parent, const char *sep, const char *child, size_t n)
{
	char buf[INTAKE_MAX_SOURCE + 1];
	size_t pos = 0, cap = INTAKE_MAX_SOURCE - 3;
	bool whole;

	whole = src_append(buf, cap, &pos, parent, strlen(parent)) &&
	        src_append(buf, cap, &pos, sep, strlen(sep)) &&
	        src_append(buf, cap, &pos, child, n);
	if (!whole) {
		memcpy(buf + pos, "...", 3);
		pos += 3;
	}
	buf[pos] = '\0';
	return strdup(buf);
}

/* Copies src into dst[size] cut at a UTF-8 character boundary. */
static void
copy_label(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		n = size - 1;
		/* Back off continuation bytes so no character is cut. */
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- notes ------------------------------------------------------------ */

static int note_add(struct intake_ctx *ctx, const char *src, const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

/* Appends a note; past INTAKE_MAX_NOTES notes are dropped quietly. */
static int
note_add(struct intake_ctx *ctx, const char *src, const char *fmt, ...)
{
	struct pki_bundle *b = ctx->b;
	struct pki_intake_note *n;
	char msg[256];
	va_list ap;
	int ret;

	if (b->note_count >= INTAKE_MAX_NOTES)
		return 0;
	if (b->note_count == INTAKE_MAX_NOTES - 1) {
		src = "";
		snprintf(msg, sizeof(msg), "%s", "more notes were left out");
	} else {
		va_start(ap, fmt);
		ret = vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (ret < 0)
			snprintf(msg, sizeof(msg), "%s", "(unprintable note)");
	}
	ret = array_reserve((void **)&b->notes, b->note_count, sizeof(*n));
	if (ret < 0)
		return ret;
	n = &b->notes[b->note_count];
	n->source = strdup(src);
	n->message = strdup(msg);
	if (!n->source || !n->message) {
		free(n->source);
		free(n->message);
		return ERR_NOMEM;
	}
	b->note_count++;
	return 0;
}

/* ---- encodings -------------------------------------------------------- */

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

enum der_shape {
	DER_NO = 0,
	DER_YES = 1,
	DER_TRUNCATED = 2,
};

/*
 * Whether data looks like one DER (or BER) SEQUENCE. For DER_YES, *use is
 * the length to parse: the element, without trailing whitespace or NULs
 * some tools append. A SEQUENCE whose header is whole but whose contents
 * are cut off is DER_TRUNCATED; a cut header, or an indefinite-length
 * header with nothing after it, is no sign of DER.
 */
static enum der_shape
der_shape(const unsigned char *data, size_t len, size_t *use)
{
	struct der in = { data, len };
	struct der_tlv el;

	if (len < 2 || data[0] != DER_SEQUENCE)
		return DER_NO;
	if (pki_der_next(&in, DER_BER, &el) < 0)
		return el.truncated && el.hdr > 0 &&
		               (!el.indefinite || len > el.hdr)
		           ? DER_TRUNCATED
		           : DER_NO;
	for (size_t i = 0; i < in.len; i++) {
		if (in.p[i] != 0 && !is_space(in.p[i]))
			return DER_NO;
	}
	*use = el.total;
	return DER_YES;
}

/* ---- certificates and keys -------------------------------------------- */

/*
 * Adds one DER certificate, parsed (pki_found_cert.cert), or counts it as
 * a duplicate (the same DER: found readable already). ERR_INVALID when it
 * is not a readable X.509 certificate, ERR_TOO_LARGE past max_certs,
 * ERR_NOMEM, ERR_CRYPTO.
 */
static int
add_cert(struct intake_ctx *ctx, const unsigned char *der, size_t len,
         const char *src, const char *format)
{
	struct pki_bundle *b = ctx->b;
	struct pki_found_cert *fc;
	struct pki_cert *pc = NULL;
	gnutls_x509_crt_t crt = NULL;
	unsigned char digest[PKI_CERTCACHE_KEY_LEN];
	char hex[PKI_SHA256_HEX_LEN + 1];
	const char *why = NULL;
	struct der_tlv el;
	gnutls_datum_t d;
	int ret;

	/* Size and shape first: GnuTLS's time grows faster than the size
	 * of a certificate with many names. */
	ret = pki_der_cert_bounded(der, len, &why);
	if (ret == ERR_TOO_LARGE)
		return intake_fail(ctx, ret, why);
	/* Malformed inside: GnuTLS, on at most DER_CERT_MAX bytes, says
	 * why below. */
	if (ret < 0 && pki_der_one(der, len, DER_SEQUENCE, 0, &el) < 0)
		return intake_fail(ctx, ERR_INVALID,
		                   "the certificate is not valid DER");
	ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, digest);
	if (ret < 0) {
		log_error("pki: hash_fast: %s", gnutls_strerror(ret));
		return ERR_CRYPTO;
	}
	util_hex(digest, sizeof(digest), hex);
	for (size_t i = 0; i < b->count; i++) {
		if (strcmp(b->certs[i].sha256, hex) == 0) {
			b->duplicates++;
			ctx->found++;
			return 0;
		}
	}
	/* Parsed here, once, for the caller. What pki_cert_parse() refuses
	 * (a malformed extension) is still found when GnuTLS reads it: the
	 * caller says why it is unreadable. */
	ret = pki_cert_parse_digest(der, len, digest, &pc, NULL);
	if (ret == ERR_NOMEM)
		return ret;
	if (ret < 0) {
		ret = gnutls_x509_crt_init(&crt);
		if (ret < 0) {
			log_error("pki: crt_init: %s", gnutls_strerror(ret));
			return pki_err_from_gnutls(ret);
		}
		d.data = (unsigned char *)der;
		d.size = (unsigned)len;
		ret = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
		gnutls_x509_crt_deinit(crt);
		if (ret < 0)
			return intake_gnutls_fail(ctx, "crt_import", ret,
			                          "the certificate is damaged");
	}
	if (b->count >= ctx->lim->max_certs) {
		pki_cert_free(pc);
		return intake_fail(ctx, ERR_TOO_LARGE,
		                   "the upload holds more certificates than "
		                   "allowed");
	}
	ret = array_reserve((void **)&b->certs, b->count, sizeof(*fc));
	if (ret < 0) {
		pki_cert_free(pc);
		return ret;
	}
	fc = &b->certs[b->count];
	memset(fc, 0, sizeof(*fc));
	fc->cert = pc;
	fc->der = malloc(len);
	fc->source = strdup(src);
	fc->format = strdup(format);
	if (!fc->der || !fc->source || !fc->format) {
		found_cert_clear(fc);
		return ERR_NOMEM;
	}
	memcpy(fc->der, der, len);
	fc->der_len = len;
	memcpy(fc->sha256, hex, sizeof(hex));
	b->count++;
	ctx->found++;
	return 0;
}

/* Stores key as plain PKCS#8 DER in b->key, format saying what carried it
 * ("pkcs12", "pem"). ERR_NOMEM, ERR_CRYPTO. */
static int
take_key(struct intake_ctx *ctx, gnutls_x509_privkey_t key, const char *src,
         const char *format)
{
	int ret = pki_xkey_export(key, &ctx->b->key);

	if (ret < 0)
		return ret;
	copy_label(ctx->b->key_source, sizeof(ctx->b->key_source), src);
	copy_label(ctx->b->key_format, sizeof(ctx->b->key_format), format);
	ctx->found++;
	return 0;
}

/* ---- PKCS#7 ----------------------------------------------------------- */

/*
 * What GnuTLS may decode of a PKCS#7: no list in it longer than
 * DER_MAX_CHILDREN, at most max_certs certificates, each within the
 * certificate bounds (pki_der_cert_bounded()). What is malformed is left
 * for GnuTLS to refuse. 0 or ERR_TOO_LARGE.
 */
static int
pkcs7_bounded(struct intake_ctx *ctx, const unsigned char *der, size_t len)
{
	struct der in = { der, len }, sd;
	struct der_tlv el, c;
	const char *why = NULL;
	size_t n = 0;
	int ret;

	ret = pki_der_bounded(der, len, DER_BER, DER_MAX_CHILDREN, &why);
	if (ret == ERR_TOO_LARGE)
		return intake_fail(ctx, ret,
		                   "the PKCS#7 has a list with more elements, "
		                   "or elements nested deeper, than allowed");
	/* ContentInfo { OID, [0] { SignedData } } */
	if (ret < 0 || pki_der_next(&in, DER_BER, &el) < 0)
		return 0;
	in = el.contents;
	if (pki_der_next(&in, DER_BER, &el) < 0 || el.tag != DER_OID ||
	    pki_der_next(&in, DER_BER, &el) < 0 || el.tag != DER_CTX0)
		return 0;
	in = el.contents;
	if (pki_der_next(&in, DER_BER, &el) < 0 || el.tag != DER_SEQUENCE)
		return 0;
	/* version, digestAlgorithms, encapContentInfo, [0] certificates */
	sd = el.contents;
	while (sd.len > 0 && pki_der_next(&sd, DER_BER, &el) == 0) {
		if (el.tag != DER_CTX0)
			continue;
		in = el.contents;
		while (in.len > 0 && pki_der_next(&in, DER_BER, &c) == 0) {
			if (++n > ctx->lim->max_certs)
				return intake_fail(ctx, ERR_TOO_LARGE,
				                   "the PKCS#7 holds more "
				                   "certificates than allowed");
			if (pki_der_cert_bounded(c.start, c.total, &why) ==
			    ERR_TOO_LARGE)
				return intake_fail(ctx, ERR_TOO_LARGE, why);
		}
		break;
	}
	return 0;
}

/*
 * Every certificate of a PKCS#7 SignedData. ERR_INVALID when it is not
 * one or holds no readable certificate; ERR_TOO_LARGE when it lists more
 * than max_certs.
 */
static int
intake_pkcs7(struct intake_ctx *ctx, const unsigned char *der, size_t len,
             const char *src)
{
	gnutls_pkcs7_t p7 = NULL;
	gnutls_datum_t d, raw = { NULL, 0 };
	size_t before = ctx->found;
	int n, ret;

	if (len > UINT_MAX)
		return intake_fail(ctx, ERR_TOO_LARGE,
		                   "the PKCS#7 is too large");
	ret = pkcs7_bounded(ctx, der, len);
	if (ret < 0)
		return ret;
	ret = gnutls_pkcs7_init(&p7);
	if (ret < 0) {
		log_error("pki: pkcs7_init: %s", gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	d.data = (unsigned char *)der;
	d.size = (unsigned)len;
	ret = gnutls_pkcs7_import(p7, &d, GNUTLS_X509_FMT_DER);
	if (ret < 0) {
		ret = intake_gnutls_fail(ctx, "pkcs7_import", ret,
		                         "the PKCS#7 is damaged or is not "
		                         "SignedData");
		goto cleanup;
	}
	n = gnutls_pkcs7_get_crt_count(p7);
	if (n < 0) {
		ret = intake_gnutls_fail(ctx, "pkcs7_get_crt_count", n,
		                         "the PKCS#7 is damaged");
		goto cleanup;
	}
	/* Each index below is a walk from the first: cap the walk. */
	if ((size_t)n > ctx->lim->max_certs) {
		ret = intake_fail(ctx, ERR_TOO_LARGE,
		                  "the PKCS#7 holds more certificates than "
		                  "allowed");
		goto cleanup;
	}
	for (int i = 0; i < n; i++) {
		ret = gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &raw);
		if (ret == GNUTLS_E_MEMORY_ERROR) {
			ret = ERR_NOMEM;
			goto cleanup;
		}
		if (ret < 0) {
			log_debug("pki: intake: pkcs7_get_crt_raw2: %s",
			          gnutls_strerror(ret));
			raw.data = NULL;
			ret = note_add(ctx, src,
			               "skipped an entry of the PKCS#7 that is "
			               "not a certificate");
		} else {
			ret = add_cert(ctx, raw.data, raw.size, src, "pkcs7");
			if (ret == ERR_INVALID)
				ret = note_add(ctx, src,
				               "skipped certificate %d of the "
				               "PKCS#7: %s",
				               i + 1, ctx->why);
		}
		gnutls_free(raw.data);
		raw.data = NULL;
		if (ret < 0)
			goto cleanup;
	}
	if (ctx->found == before)
		ret = intake_fail(ctx, ERR_INVALID,
		                  "the PKCS#7 holds no certificate");
	else
		ret = 0;
cleanup:
	gnutls_pkcs7_deinit(p7);
	return ret;
}

/* ---- PKCS#12 ---------------------------------------------------------- */

/* The passwords to try, the one that worked last moved first. */
struct p12_pw {
	const char *cand[2];
	size_t n;
	bool mac_ok; /* the MAC verified: cand[0] is the password */
};

static void
p12_pw_choose(struct p12_pw *pw, size_t i)
{
	const char *t = pw->cand[0];

	pw->cand[0] = pw->cand[i];
	pw->cand[i] = t;
}

static int
p12_password_error(struct intake_ctx *ctx)
{
	return intake_fail(ctx, ERR_PASSWORD,
	                   ctx->password ? WHY_P12_WRONG : WHY_P12_NEEDED);
}

/* Spends iter iterations of the input's key-derivation budget. */
static int
kdf_charge(struct intake_ctx *ctx, unsigned iter)
{
	unsigned long cost = iter ? iter : 1;

	if (cost > ctx->kdf_left)
		return intake_fail(ctx, ERR_TOO_LARGE,
		                   "the PKCS#12 asks for more key-derivation "
		                   "work than allowed");
	ctx->kdf_left -= cost;
	return 0;
}

/*
 * Checks the MAC with each candidate password. A PKCS#12 without a MAC
 * passes: its encrypted parts will tell. ERR_PASSWORD, ERR_INVALID,
 * ERR_TOO_LARGE, ERR_NOMEM.
 */
static int
p12_check_mac(struct intake_ctx *ctx, gnutls_pkcs12_t p12, struct p12_pw *pw)
{
	unsigned mac = 0, iter = 0;
	char *oid = NULL;
	int ret;

	/* GnuTLS 3.7.9 leaks the OID on an unknown MAC unless it is asked
	 * for: ask, and free it. */
	ret = gnutls_pkcs12_mac_info(p12, &mac, NULL, NULL, &iter, &oid);
	gnutls_free(oid);
	if (ret == GNUTLS_E_INVALID_REQUEST)
		return 0;
	if (ret == GNUTLS_E_UNKNOWN_HASH_ALGORITHM)
		return intake_gnutls_fail(ctx, "pkcs12_mac_info", ret,
		                          "the PKCS#12 uses a MAC algorithm "
		                          "that is not supported");
	if (ret < 0)
		return intake_gnutls_fail(ctx, "pkcs12_mac_info", ret,
		                          WHY_P12_DAMAGED);
	for (size_t i = 0; i < pw->n; i++) {
		ret = kdf_charge(ctx, iter);
		if (ret < 0)
			return ret;
		ret = gnutls_pkcs12_verify_mac(p12, pw->cand[i]);
		if (ret == 0) {
			p12_pw_choose(pw, i);
			pw->mac_ok = true;
			return 0;
		}
		if (ret != GNUTLS_E_MAC_VERIFY_FAILED)
			return intake_gnutls_fail(ctx, "pkcs12_verify_mac", ret,
			                          WHY_P12_DAMAGED);
	}
	return p12_password_error(ctx);
}

/* Fetches bag idx: 0, 1 after the last bag, or a negative enum err. */
static int
p12_get_bag(struct intake_ctx *ctx, gnutls_pkcs12_t p12, unsigned idx,
            gnutls_pkcs12_bag_t *out)
{
	gnutls_pkcs12_bag_t bag = NULL;
	int ret;

	ret = gnutls_pkcs12_bag_init(&bag);
	if (ret < 0)
		return pki_err_from_gnutls(ret);
	ret = gnutls_pkcs12_get_bag(p12, (int)idx, bag);
	if (ret < 0) {
		gnutls_pkcs12_bag_deinit(bag);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return 1;
		return intake_gnutls_fail(ctx, "pkcs12_get_bag", ret,
		                          WHY_P12_DAMAGED);
	}
	*out = bag;
	return 0;
}

/*
 * Decrypts the encrypted bag idx in *bagp, trying each password (a failed
 * try can leave a bag half-decoded, so each retry fetches it anew).
 */
static int
p12_decrypt_bag(struct intake_ctx *ctx, gnutls_pkcs12_t p12, unsigned idx,
                struct p12_pw *pw, gnutls_pkcs12_bag_t *bagp)
{
	unsigned iter = 0;
	int ret;

	ret = gnutls_pkcs12_bag_enc_info(*bagp, NULL, NULL, NULL, NULL, &iter,
	                                 NULL);
	if (ret == GNUTLS_E_UNKNOWN_CIPHER_TYPE)
		return intake_gnutls_fail(ctx, "pkcs12_bag_enc_info", ret,
		                          "the PKCS#12 is encrypted with a "
		                          "cipher that is not supported");
	if (ret < 0)
		return intake_gnutls_fail(ctx, "pkcs12_bag_enc_info", ret,
		                          WHY_P12_DAMAGED);
	for (size_t i = 0; i < pw->n; i++) {
		if (i > 0) {
			gnutls_pkcs12_bag_deinit(*bagp);
			*bagp = NULL;
			ret = p12_get_bag(ctx, p12, idx, bagp);
			if (ret != 0)
				return ret < 0 ? ret
				               : intake_fail(ctx, ERR_INVALID,
				                             WHY_P12_DAMAGED);
		}
		ret = kdf_charge(ctx, iter);
		if (ret < 0)
			return ret;
		ret = gnutls_pkcs12_bag_decrypt(*bagp, pw->cand[i]);
		if (ret == 0) {
			p12_pw_choose(pw, i);
			return 0;
		}
		if (ret == GNUTLS_E_MEMORY_ERROR)
			return ERR_NOMEM;
		log_debug("pki: intake: pkcs12_bag_decrypt: %s",
		          gnutls_strerror(ret));
	}
	if (pw->mac_ok)
		return intake_fail(ctx, ERR_INVALID,
		                   "a part of the PKCS#12 cannot be decrypted "
		                   "with its password");
	return p12_password_error(ctx);
}

/*
 * Decrypts (when encrypted) the PKCS#8 key of a bag and keeps it as the
 * bundle's key; a second key is a note. ERR_PASSWORD, ERR_INVALID,
 * ERR_TOO_LARGE, ERR_NOMEM, ERR_CRYPTO.
 */
static int
p12_take_key(struct intake_ctx *ctx, const gnutls_datum_t *data, bool encrypted,
             struct p12_pw *pw, const char *src)
{
	gnutls_x509_privkey_t key = NULL;
	unsigned iter = 0;
	int ret;

	if (ctx->b->key)
		return note_add(ctx, src,
		                "more than one private key; only the first "
		                "one (%s) is kept",
		                ctx->b->key_source);
	ret = gnutls_x509_privkey_init(&key);
	if (ret < 0)
		return pki_err_from_gnutls(ret);
	if (!encrypted) {
		ret = gnutls_x509_privkey_import_pkcs8(
		    key, data, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN);
		if (ret < 0) {
			ret = key_gnutls_fail(ctx, "privkey_import_pkcs8", ret,
			                      "the private key in the "
			                      "PKCS#12 is damaged");
			goto cleanup;
		}
	} else {
		ret = gnutls_pkcs8_info(data, GNUTLS_X509_FMT_DER, NULL, NULL,
		                        NULL, NULL, &iter, NULL);
		if (ret < 0) {
			ret = key_gnutls_fail(
			    ctx, "pkcs8_info", ret,
			    ret == GNUTLS_E_UNKNOWN_CIPHER_TYPE
			        ? "the private key in the PKCS#12 is encrypted "
			          "with a cipher that is not supported"
			        : "the private key in the PKCS#12 is damaged");
			goto cleanup;
		}
		ret = -1;
		for (size_t i = 0; i < pw->n && ret != 0; i++) {
			ret = kdf_charge(ctx, iter);
			if (ret < 0)
				goto cleanup;
			ret = gnutls_x509_privkey_import_pkcs8(
			    key, data, GNUTLS_X509_FMT_DER, pw->cand[i], 0);
			if (ret == GNUTLS_E_MEMORY_ERROR) {
				ret = ERR_NOMEM;
				goto cleanup;
			}
			if (ret == 0)
				p12_pw_choose(pw, i);
			else
				log_debug("pki: intake: privkey_import_pkcs8: "
				          "%s",
				          gnutls_strerror(ret));
		}
		if (ret != 0) {
			ret = pw->mac_ok
			          ? key_fail(ctx, ERR_INVALID,
			                     "the private key in the PKCS#12 "
			                     "cannot be decrypted with its "
			                     "password")
			          : key_fail(ctx, p12_password_error(ctx),
			                     ctx->why);
			goto cleanup;
		}
	}
	ret = take_key(ctx, key, src, "pkcs12");
cleanup:
	gnutls_x509_privkey_deinit(key);
	return ret;
}

/* The elements of one (decrypted) bag. */
static int
p12_read_bag(struct intake_ctx *ctx, gnutls_pkcs12_bag_t bag, struct p12_pw *pw,
             const char *src)
{
	int n, ret = 0;

	n = gnutls_pkcs12_bag_get_count(bag);
	if (n < 0)
		return intake_gnutls_fail(ctx, "pkcs12_bag_get_count", n,
		                          WHY_P12_DAMAGED);
	for (int i = 0; i < n && ret >= 0; i++) {
		gnutls_datum_t d;
		int type = gnutls_pkcs12_bag_get_type(bag, (unsigned)i);

		if (type < 0 ||
		    gnutls_pkcs12_bag_get_data(bag, (unsigned)i, &d) < 0)
			return intake_fail(ctx, ERR_INVALID, WHY_P12_DAMAGED);
		switch (type) {
		case GNUTLS_BAG_CERTIFICATE:
			ret = add_cert(ctx, d.data, d.size, src, "pkcs12");
			if (ret == ERR_INVALID)
				ret = note_add(ctx, src,
				               "skipped a certificate of the "
				               "PKCS#12: %s",
				               ctx->why);
			break;
		case GNUTLS_BAG_PKCS8_KEY:
			ret = p12_take_key(ctx, &d, false, pw, src);
			/* The bag holds it in the clear. */
			util_wipe(d.data, d.size);
			break;
		case GNUTLS_BAG_PKCS8_ENCRYPTED_KEY:
			ret = p12_take_key(ctx, &d, true, pw, src);
			break;
		case GNUTLS_BAG_CRL:
		case GNUTLS_BAG_EMPTY:
			break;
		default:
			ret = note_add(ctx, src,
			               "skipped a part of the PKCS#12 that is "
			               "neither a certificate nor a key");
			break;
		}
	}
	return ret;
}

/*
 * Certificates and the first private key of a PKCS#12. ERR_PASSWORD when
 * the password (or its absence) does not open it; ERR_INVALID;
 * ERR_TOO_LARGE (too many parts or too much key derivation); ERR_NOMEM.
 */
static int
intake_pkcs12(struct intake_ctx *ctx, const unsigned char *der, size_t len,
              const char *src)
{
	gnutls_pkcs12_t p12 = NULL;
	gnutls_pkcs12_bag_t bag = NULL;
	struct p12_pw pw;
	gnutls_datum_t d;
	size_t before = ctx->found;
	int ret;

	if (ctx->password) {
		pw.cand[0] = ctx->password;
		pw.n = 1;
	} else {
		/* PKCS#12 tells "" (two NUL bytes) from NULL (nothing):
		 * tools write either for "no password". */
		pw.cand[0] = "";
		pw.cand[1] = NULL;
		pw.n = 2;
	}
	pw.mac_ok = false;

	if (len > UINT_MAX)
		return intake_fail(ctx, ERR_TOO_LARGE,
		                   "the PKCS#12 is too large");
	if (pki_der_bounded(der, len, DER_BER, DER_MAX_CHILDREN, NULL) ==
	    ERR_TOO_LARGE)
		return intake_fail(ctx, ERR_TOO_LARGE,
		                   "the PKCS#12 has a list with more elements, "
		                   "or elements nested deeper, than allowed");
	ret = gnutls_pkcs12_init(&p12);
	if (ret < 0) {
		log_error("pki: pkcs12_init: %s", gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	d.data = (unsigned char *)der;
	d.size = (unsigned)len;
	ret = gnutls_pkcs12_import(p12, &d, GNUTLS_X509_FMT_DER, 0);
	if (ret < 0) {
		ret = intake_gnutls_fail(ctx, "pkcs12_import", ret,
		                         WHY_P12_DAMAGED);
		goto cleanup;
	}
	ret = p12_check_mac(ctx, p12, &pw);
	if (ret < 0)
		goto cleanup;

	for (unsigned idx = 0;; idx++) {
		if (idx >= INTAKE_MAX_P12_BAGS) {
			ret = intake_fail(ctx, ERR_TOO_LARGE,
			                  "the PKCS#12 has more parts than "
			                  "allowed");
			goto cleanup;
		}
		ret = p12_get_bag(ctx, p12, idx, &bag);
		if (ret < 0)
			goto cleanup;
		if (ret == 1)
			break;
		if (gnutls_pkcs12_bag_get_type(bag, 0) ==
		    GNUTLS_BAG_ENCRYPTED) {
			ret = p12_decrypt_bag(ctx, p12, idx, &pw, &bag);
			if (ret < 0)
				goto cleanup;
		}
		ret = p12_read_bag(ctx, bag, &pw, src);
		if (ret < 0)
			goto cleanup;
		gnutls_pkcs12_bag_deinit(bag);
		bag = NULL;
	}
	if (ctx->found == before)
		ret = intake_fail(ctx, ERR_INVALID,
		                  "the PKCS#12 holds no certificate or key");
	else
		ret = 0;
cleanup:
	if (bag)
		gnutls_pkcs12_bag_deinit(bag);
	gnutls_pkcs12_deinit(p12);
	return ret;
}

/* ---- DER -------------------------------------------------------------- */

/* true when a DER CSR is what der holds (to say so). */
static bool
der_is_csr(const unsigned char *der, size_t len)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t d;
	int ret;

	/* Not parsed at all when too large or complex to be a real one. */
	if (pki_der_cert_bounded(der, len, NULL) < 0 ||
	    gnutls_x509_crq_init(&crq) < 0)
		return false;
	d.data = (unsigned char *)der;
	d.size = (unsigned)len;
	ret = gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER);
	if (ret == 0)
		ret = gnutls_x509_crq_get_pk_algorithm(crq, NULL) > 0 ? 0 : -1;
	gnutls_x509_crq_deinit(crq);
	return ret == 0;
}

/*
 * One DER (or BER) structure, told apart by its first inner element:
 * SEQUENCE = certificate, OBJECT IDENTIFIER = PKCS#7 ContentInfo,
 * INTEGER 3 = PKCS#12 (INTEGER 0 is a private key). cert_format labels a
 * certificate found as such. ERR_INVALID with why when it is none of what
 * allow lets in.
 */
static int
intake_der(struct intake_ctx *ctx, const unsigned char *der, size_t len,
           const char *src, const char *cert_format, unsigned allow)
{
	struct der_tlv outer, first;
	struct der in;
	size_t use;
	int ret;

	switch (der_shape(der, len, &use)) {
	case DER_YES:
		break;
	case DER_TRUNCATED:
		return intake_fail(ctx, ERR_INVALID,
		                   "the DER data is truncated");
	default:
		return intake_fail(ctx, ERR_INVALID, WHY_UNRECOGNIZED);
	}
	in.p = der;
	in.len = use;
	if (pki_der_next(&in, DER_BER, &outer) < 0 || outer.contents.len == 0)
		return intake_fail(ctx, ERR_INVALID, WHY_UNRECOGNIZED);
	in = outer.contents;

	if (pki_der_peek(&in, DER_SEQUENCE) && (allow & DER_CERT)) {
		ret = add_cert(ctx, der, use, src, cert_format);
		if (ret == ERR_INVALID && der_is_csr(der, use))
			ctx->why = WHY_CSR;
		return ret;
	}
	if (pki_der_peek(&in, DER_OID) && (allow & DER_PKCS7))
		return intake_pkcs7(ctx, der, use, src);
	if (pki_der_peek(&in, DER_INTEGER) && (allow & DER_P12)) {
		/* PFX version 3; a key (PKCS#8, PKCS#1, SEC 1) starts with a
		 * one-byte version 0 or 1. */
		if (pki_der_next(&in, DER_BER, &first) == 0 &&
		    first.contents.len == 1 && first.contents.p[0] != 3)
			return intake_fail(ctx, ERR_INVALID, WHY_DER_KEY);
		return intake_pkcs12(ctx, der, use, src);
	}
	return intake_fail(ctx, ERR_INVALID, WHY_UNRECOGNIZED);
}

/* ---- PEM -------------------------------------------------------------- */

enum pem_kind {
	PEM_KIND_CERT,
	PEM_KIND_TRUSTED,
	PEM_KIND_PKCS7,
	PEM_KIND_CSR,
	PEM_KIND_KEY,
	PEM_KIND_OTHER,
};

static const struct {
	const char *label;
	enum pem_kind kind;
} pem_labels[] = {
	{ "CERTIFICATE", PEM_KIND_CERT },
	{ "X509 CERTIFICATE", PEM_KIND_CERT },
	{ "TRUSTED CERTIFICATE", PEM_KIND_TRUSTED },
	{ "PKCS7", PEM_KIND_PKCS7 },
	{ "PKCS #7 SIGNED DATA", PEM_KIND_PKCS7 },
	{ "CMS", PEM_KIND_PKCS7 },
	{ "CERTIFICATE REQUEST", PEM_KIND_CSR },
	{ "NEW CERTIFICATE REQUEST", PEM_KIND_CSR },
	{ "PRIVATE KEY", PEM_KIND_KEY },
	{ "ENCRYPTED PRIVATE KEY", PEM_KIND_KEY },
	{ "RSA PRIVATE KEY", PEM_KIND_KEY },
	{ "EC PRIVATE KEY", PEM_KIND_KEY },
	{ "DSA PRIVATE KEY", PEM_KIND_KEY },
	{ "OPENSSH PRIVATE KEY", PEM_KIND_KEY },
};

static enum pem_kind
pem_kind_of(const char *label)
{
	for (size_t i = 0; i < sizeof(pem_labels) / sizeof(pem_labels[0]);
	     i++) {
		if (strcmp(label, pem_labels[i].label) == 0)
			return pem_labels[i].kind;
	}
	return PEM_KIND_OTHER;
}

/*
 * Reads a label (letters, digits, space, '#', '.', '/', '_', '+') that
 * ends with "-----" at p[0..len) into label[PEM_MAX_LABEL + 1]. Returns
 * the bytes used (label and dashes) or 0 when malformed.
 */
static size_t
pem_read_label(const unsigned char *p, size_t len, char *label)
{
	size_t i;

	for (i = 0; i < len && i <= PEM_MAX_LABEL; i++) {
		unsigned char c = p[i];

		if (c == '-')
			break;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == ' ' || c == '#' ||
		      c == '.' || c == '/' || c == '_' || c == '+'))
			return 0;
		label[i] = (char)c;
	}
	if (i == 0 || i > PEM_MAX_LABEL || len - i < 5 ||
	    memcmp(p + i, PEM_DASHES, 5) != 0)
		return 0;
	label[i] = '\0';
	return i + 5;
}

/* Bytes of a private key's DER: an RSA 16384-bit PKCS#8 is under 10 KiB. */
#define KEY_MAX_DER (16 * 1024)

/*
 * A private key in PEM, kept as the bundle's key like a PKCS#12's:
 * PKCS#8 ("PRIVATE KEY"), PKCS#8 encrypted under the upload's password
 * ("ENCRYPTED PRIVATE KEY"), PKCS#1 or SEC 1 ("RSA PRIVATE KEY", "EC
 * PRIVATE KEY"). A second key is a note, as in a PKCS#12; a key that
 * cannot be read fails the input (key_fail()). ERR_PASSWORD,
 * ERR_INVALID, ERR_TOO_LARGE, ERR_NOMEM, ERR_CRYPTO.
 */
static int
pem_key(struct intake_ctx *ctx, const char *label, const unsigned char *body,
        size_t body_len, const char *src)
{
	gnutls_x509_privkey_t key = NULL;
	unsigned char *der = NULL;
	size_t der_len = 0;
	bool encrypted = strcmp(label, "ENCRYPTED PRIVATE KEY") == 0;
	unsigned iter = 0;
	gnutls_datum_t d;
	int ret;

	if (ctx->b->key)
		return note_add(ctx, src,
		                "more than one private key; only the first "
		                "one (%s) is kept",
		                ctx->b->key_source);
	if (strcmp(label, "OPENSSH PRIVATE KEY") == 0)
		return key_fail(ctx, ERR_INVALID,
		                "OpenSSH private keys are not read: convert "
		                "the key to PKCS#8 or upload a PKCS#12");
	if (pki_find_bytes(body, body_len, "Proc-Type:") ||
	    pki_find_bytes(body, body_len, "DEK-Info:"))
		return key_fail(ctx, ERR_INVALID,
		                "the private key is encrypted the legacy "
		                "OpenSSL way: convert it to PKCS#8 (openssl "
		                "pkcs8 -topk8) or upload a PKCS#12");
	if (body_len > KEY_MAX_DER * 2)
		return key_fail(ctx, ERR_TOO_LARGE,
		                "the private key is larger than any real one");
	ret = pki_base64_decode(body, body_len, &der, &der_len);
	if (ret == ERR_INVALID)
		return key_fail(ctx, ERR_INVALID,
		                "the private key's PEM block is not valid "
		                "base64");
	if (ret < 0)
		return ret;
	if (der_len > KEY_MAX_DER ||
	    pki_der_bounded(der, der_len, 0, DER_MAX_CHILDREN, NULL) < 0) {
		ret = key_fail(ctx, ERR_INVALID, "the private key is damaged");
		goto cleanup;
	}
	if (encrypted && !ctx->password) {
		ret = key_fail(ctx, ERR_PASSWORD,
		               "the private key is encrypted: send its "
		               "password with the upload");
		goto cleanup;
	}
	ret = gnutls_x509_privkey_init(&key);
	if (ret < 0) {
		key = NULL;
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	d.data = der;
	d.size = (unsigned)der_len;
	if (encrypted) {
		ret = gnutls_pkcs8_info(&d, GNUTLS_X509_FMT_DER, NULL, NULL,
		                        NULL, NULL, &iter, NULL);
		if (ret < 0) {
			ret = key_gnutls_fail(
			    ctx, "pkcs8_info", ret,
			    "the encrypted private key is damaged or uses a "
			    "cipher that is not supported");
			goto cleanup;
		}
		ret = kdf_charge(ctx, iter);
		if (ret < 0) {
			ret = key_fail(ctx, ret, ctx->why);
			goto cleanup;
		}
		ret = gnutls_x509_privkey_import_pkcs8(
		    key, &d, GNUTLS_X509_FMT_DER, ctx->password, 0);
		if (ret < 0 && ret != GNUTLS_E_MEMORY_ERROR) {
			log_debug("pki: intake: privkey_import_pkcs8: %s",
			          gnutls_strerror(ret));
			ret = key_fail(ctx, ERR_PASSWORD,
			               "the password does not open the "
			               "encrypted private key");
			goto cleanup;
		}
	} else if (strcmp(label, "PRIVATE KEY") == 0) {
		ret = gnutls_x509_privkey_import_pkcs8(
		    key, &d, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN);
	} else {
		ret = gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_DER);
	}
	if (ret < 0) {
		ret = key_gnutls_fail(ctx, "privkey_import", ret,
		                      "the private key is damaged or of a "
		                      "kind that is not supported");
		goto cleanup;
	}
	ret = take_key(ctx, key, src, "pem");
cleanup:
	if (key)
		gnutls_x509_privkey_deinit(key);
	buf_free(der, der_len);
	return ret;
}

/* One PEM block's body, by its kind. ERR_INVALID with why when unusable. */
static int
pem_block(struct intake_ctx *ctx, const char *label, const unsigned char *body,
          size_t body_len, const char *src)
{
	enum pem_kind kind = pem_kind_of(label);
	unsigned char *der = NULL;
	size_t der_len = 0;
	struct der_tlv el;
	struct der in;
	int ret;

	switch (kind) {
	case PEM_KIND_CSR:
		return intake_fail(ctx, ERR_INVALID, WHY_CSR);
	case PEM_KIND_KEY:
		return pem_key(ctx, label, body, body_len, src);
	case PEM_KIND_OTHER:
		return intake_fail(ctx, ERR_INVALID,
		                   "this PEM block is not a certificate");
	default:
		break;
	}
	ret = pki_base64_decode(body, body_len, &der, &der_len);
	if (ret == ERR_INVALID)
		return intake_fail(ctx, ERR_INVALID,
		                   "the PEM block is not valid base64");
	if (ret < 0)
		return ret;
	if (kind == PEM_KIND_TRUSTED) {
		/* OpenSSL's: the certificate, then its trust settings. */
		in.p = der;
		in.len = der_len;
		if (pki_der_next(&in, 0, &el) == 0)
			ret = add_cert(ctx, el.start, el.total, src, "pem");
		else
			ret = intake_fail(ctx, ERR_INVALID,
			                  "the certificate is not valid DER");
	} else {
		/* CAs label PKCS#7 "CERTIFICATE" and the other way round:
		 * the content decides. */
		ret = intake_der(ctx, der, der_len, src, "pem",
		                 DER_CERT | DER_PKCS7);
		if (ret == ERR_INVALID && ctx->why == WHY_UNRECOGNIZED)
			ctx->why = "the PEM block holds neither a certificate "
			           "nor a PKCS#7";
	}
	buf_free(der, der_len);
	return ret;
}

/*
 * Every block of PEM text, in one pass: a BEGIN line's block ends at the
 * next "-----", which must be its END line. Blocks that are not
 * certificates become notes; ERR_INVALID (why: the first block's problem)
 * when no block yields anything.
 */
static int
intake_pem(struct intake_ctx *ctx, const unsigned char *data, size_t len,
           const char *src)
{
	const unsigned char *p = data, *end = data + len;
	const char *first_why = NULL;
	size_t before = ctx->found;
	unsigned nblock = 0;
	int ret = 0;

	for (;;) {
		char label[PEM_MAX_LABEL + 1], end_label[PEM_MAX_LABEL + 1];
		const unsigned char *begin, *body, *q = NULL;
		char *bsrc = NULL;
		char num[24];
		size_t used;
		const char *why = NULL;

		begin = pki_find_bytes(p, (size_t)(end - p), PEM_BEGIN);
		if (!begin)
			break;
		nblock++;
		body = begin + strlen(PEM_BEGIN);
		used = pem_read_label(body, (size_t)(end - body), label);
		if (used == 0) {
			p = body;
			why = "a PEM BEGIN line is malformed";
			snprintf(label, sizeof(label), "?");
		} else {
			body += used;
			q = pki_find_bytes(body, (size_t)(end - body),
			                   PEM_DASHES);
			if (!q || (size_t)(end - q) < strlen(PEM_END) ||
			    memcmp(q, PEM_END, strlen(PEM_END)) != 0) {
				/* Next is another BEGIN, stray dashes or
				 * the end of the text. */
				why = "a PEM block has no END line";
				p = q ? q : end;
			} else {
				size_t eu = pem_read_label(q + strlen(PEM_END),
				                           (size_t)(end - q) -
				                               strlen(PEM_END),
				                           end_label);

				p = q + strlen(PEM_END) + eu;
				if (eu == 0) {
					why = "a PEM END line is malformed";
					p = q + strlen(PEM_END);
				} else if (strcmp(label, end_label) != 0) {
					why = "a PEM block's END line does "
					      "not match its BEGIN line";
				}
			}
		}

		if (nblock == 1) {
			bsrc = strdup(src);
		} else {
			snprintf(num, sizeof(num), "%u", nblock);
			bsrc = src_make(src, "#", num, strlen(num));
		}
		if (!bsrc)
			return ERR_NOMEM;
		if (why) {
			ret = intake_fail(ctx, ERR_INVALID, why);
		} else {
			ret = pem_block(ctx, label, body, (size_t)(q - body),
			                bsrc);
		}
		if (ret == ERR_INVALID && !ctx->key_failed) {
			if (!first_why)
				first_why = ctx->why;
			if (pem_kind_of(label) == PEM_KIND_OTHER && !why)
				ret =
				    note_add(ctx, bsrc,
				             "skipped a \"%s\" PEM block: not "
				             "a certificate",
				             label);
			else
				ret = note_add(ctx, bsrc, "skipped: %s",
				               ctx->why);
		}
		free(bsrc);
		if (ret < 0)
			return ret;
	}
	if (ctx->found == before)
		return intake_fail(ctx, ERR_INVALID,
		                   first_why ? first_why
		                             : "the PEM text holds no "
		                               "certificate");
	return 0;
}

/* ---- zip -------------------------------------------------------------- */

/*
 * One open archive's share of the limits. max_ratio is enforced per
 * archive (bytes unpacked from it against its own size, as they come):
 * libarchive does not tell an entry's compressed size, and the
 * per-entry max_input and the global max_total bound the rest.
 */
struct zip_state {
	size_t unpacked;    /* bytes unpacked from this archive */
	size_t ratio_limit; /* max(max_ratio x its size, INTAKE_RATIO_SLACK) */
};

/*
 * Reads the current entry to its end through the limits. With out, keeps
 * the bytes (malloc'd; caller wipes and frees). ERR_TOO_LARGE when a
 * limit is passed; ERR_INVALID with *fatal when the archive cannot go on,
 * without when only this entry is unreadable; ERR_NOMEM.
 */
static int
zip_read_entry(struct intake_ctx *ctx, struct archive *a, struct zip_state *z,
               unsigned char **out, size_t *out_len, bool *fatal)
{
	const struct pki_intake_limits *lim = ctx->lim;
	struct pki_bundle *b = ctx->b;
	unsigned char *buf = NULL;
	size_t n = 0, cap = 0;
	int ret;

	*fatal = false;
	for (;;) {
		la_ssize_t got = archive_read_data(a, ctx->chunk, INTAKE_CHUNK);
		size_t g;

		if (got == 0)
			break;
		if (got < 0) {
			log_debug("pki: intake: archive_read_data: %s",
			          archive_error_string(a));
			*fatal = got == ARCHIVE_FATAL;
			ret = intake_fail(ctx, ERR_INVALID,
			                  *fatal ? WHY_ZIP_DAMAGED
			                         : "the file cannot be "
			                           "unpacked (damaged, or an "
			                           "unsupported compression)");
			goto cleanup;
		}
		g = (size_t)got;
		if (g > lim->max_input - n) {
			ret = intake_fail(ctx, ERR_TOO_LARGE,
			                  "a file in the zip archive is larger "
			                  "than the size limit");
			goto cleanup;
		}
		if (g > z->ratio_limit - z->unpacked) {
			ret = intake_fail(ctx, ERR_TOO_LARGE,
			                  "the zip archive unpacks to too much "
			                  "for its size (a zip bomb?)");
			goto cleanup;
		}
		if (g > lim->max_total - b->total) {
			ret = intake_fail(ctx, ERR_TOO_LARGE,
			                  "the upload unpacks to more than the "
			                  "size limit");
			goto cleanup;
		}
		z->unpacked += g;
		b->total += g;
		if (!out) {
			n += g;
			continue;
		}
		if (g > cap - n) {
			/* Grow by copying so no stale copy is left
			 * unwiped (it may be a PKCS#12). */
			size_t ncap = cap ? cap : INTAKE_CHUNK;
			unsigned char *nbuf;

			while (ncap - n < g)
				ncap =
				    ncap > SIZE_MAX / 2 ? SIZE_MAX : ncap * 2;
			if (ncap > lim->max_input)
				ncap = lim->max_input;
			nbuf = malloc(ncap);
			if (!nbuf) {
				ret = ERR_NOMEM;
				goto cleanup;
			}
			if (n)
				memcpy(nbuf, buf, n);
			buf_free(buf, cap);
			buf = nbuf;
			cap = ncap;
		}
		memcpy(buf + n, ctx->chunk, g);
		n += g;
	}
	if (out) {
		*out = buf;
		*out_len = n;
		buf = NULL;
	}
	ret = 0;
cleanup:
	util_wipe(ctx->chunk, INTAKE_CHUNK);
	buf_free(buf, cap);
	return ret;
}

/* Entries nobody wants: macOS resource forks and dotfiles. */
static bool
zip_path_is_noise(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return base[0] == '.' || strncmp(path, "__MACOSX/", 9) == 0 ||
	       strstr(path, "/__MACOSX/") != NULL;
}

/* Reads one member's bytes as an input of its own. */
static int
zip_member(struct intake_ctx *ctx, const unsigned char *data, size_t len,
           const char *src, unsigned level)
{
	struct intake_mark m;
	int ret;

	bundle_mark(ctx, &m);
	if (len == 0)
		ret = intake_fail(ctx, ERR_INVALID, "the file is empty");
	else
		ret = intake_any(ctx, data, len, src, level);
	if (ret != ERR_INVALID || ctx->key_failed)
		return ret;
	/* Whatever it added is taken back: it counts as one skipped file. */
	bundle_rollback(ctx, &m);
	return note_add(ctx, src, "skipped: %s",
	                ctx->why == WHY_UNRECOGNIZED ? "no certificate in it"
	                                             : ctx->why);
}

/*
 * A zip archive at nesting level (0: the upload itself). Members are read
 * as inputs of their own; those that hold nothing usable become notes.
 * ERR_INVALID when the archive itself is damaged; ERR_TOO_LARGE for any
 * limit; ERR_PASSWORD from a PKCS#12 inside.
 */
static int
intake_zip(struct intake_ctx *ctx, const unsigned char *data, size_t len,
           const char *src, unsigned level)
{
	struct archive *a = NULL;
	struct archive_entry *entry;
	struct zip_state z = { 0, INTAKE_RATIO_SLACK };
	size_t before = ctx->found;
	unsigned char *mbuf = NULL;
	size_t mlen = 0;
	char *msrc = NULL;
	bool fatal;
	int ret;

	if (level >= ctx->max_depth)
		return intake_fail(ctx, ERR_TOO_LARGE,
		                   "zip archives are nested deeper than "
		                   "allowed");
	if (ctx->lim->max_ratio > 0 &&
	    len > INTAKE_RATIO_SLACK / ctx->lim->max_ratio)
		z.ratio_limit = len > SIZE_MAX / ctx->lim->max_ratio
		                    ? SIZE_MAX
		                    : len * ctx->lim->max_ratio;
	if (!ctx->chunk) {
		ctx->chunk = malloc(INTAKE_CHUNK);
		if (!ctx->chunk)
			return ERR_NOMEM;
	}
	a = archive_read_new();
	if (!a)
		return ERR_NOMEM;
	if (archive_read_support_format_zip(a) != ARCHIVE_OK ||
	    archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		log_debug("pki: intake: archive_read_open_memory: %s",
		          archive_error_string(a));
		ret = intake_fail(ctx, ERR_INVALID, WHY_ZIP_DAMAGED);
		goto cleanup;
	}
	for (;;) {
		const char *path;
		mode_t type;

		ret = archive_read_next_header(a, &entry);
		if (ret == ARCHIVE_EOF)
			break;
		if (ret != ARCHIVE_OK && ret != ARCHIVE_WARN) {
			log_debug("pki: intake: archive_read_next_header: %s",
			          archive_error_string(a));
			ret = intake_fail(ctx, ERR_INVALID, WHY_ZIP_DAMAGED);
			goto cleanup;
		}
		if (++ctx->entries > ctx->lim->max_entries) {
			ret = intake_fail(ctx, ERR_TOO_LARGE,
			                  "the zip archive has more files than "
			                  "allowed");
			goto cleanup;
		}
		path = archive_entry_pathname_utf8(entry);
		if (!path)
			path = archive_entry_pathname(entry);
		if (!path)
			path = "(unnamed)";
		msrc = src_make(src, "!", path, strlen(path));
		if (!msrc) {
			ret = ERR_NOMEM;
			goto cleanup;
		}
		type = archive_entry_filetype(entry);

		if (archive_entry_is_encrypted(entry)) {
			/* Its data cannot be read; libarchive skips it by
			 * its recorded size. */
			ret =
			    note_add(ctx, msrc,
			             "skipped: the file is encrypted in the "
			             "zip archive; zip it without a password");
		} else if (type != AE_IFREG || zip_path_is_noise(path)) {
			ret = zip_read_entry(ctx, a, &z, NULL, NULL, &fatal);
			if (ret == ERR_INVALID && !fatal)
				ret = 0;
			if (ret == 0 && type == AE_IFLNK)
				ret = note_add(ctx, msrc,
				               "skipped: a symbolic link");
			else if (ret == 0 && type != AE_IFREG &&
			         type != AE_IFDIR)
				ret = note_add(ctx, msrc,
				               "skipped: not a regular file");
		} else {
			ret = zip_read_entry(ctx, a, &z, &mbuf, &mlen, &fatal);
			if (ret == ERR_INVALID && !fatal)
				ret = note_add(ctx, msrc, "skipped: %s",
				               ctx->why);
			else if (ret == 0)
				ret = zip_member(ctx, mbuf, mlen, msrc,
				                 level + 1);
			buf_free(mbuf, mlen);
			mbuf = NULL;
			mlen = 0;
		}
		free(msrc);
		msrc = NULL;
		if (ret < 0)
			goto cleanup;
	}
	ret = 0;
	if (ctx->found == before)
		ret = note_add(ctx, src, "no certificate in the zip archive");
cleanup:
	free(msrc);
	buf_free(mbuf, mlen);
	archive_read_free(a);
	return ret;
}

/* ---- dispatch --------------------------------------------------------- */

static bool
is_zip(const unsigned char *data, size_t len)
{
	return len >= 4 && data[0] == 'P' && data[1] == 'K' &&
	       ((data[2] == 3 && data[3] == 4) ||
	        (data[2] == 5 && data[3] == 6));
}

/*
 * One input by its content: zip, DER, PEM, bare base64, in that order (DER
 * before PEM so a binary structure that happens to hold "-----BEGIN " is
 * still read as DER). ERR_INVALID with ctx->why when none fits.
 */
static int
intake_any(struct intake_ctx *ctx, const unsigned char *data, size_t len,
           const char *src, unsigned level)
{
	struct intake_mark m;
	enum der_shape shape;
	bool has_pem;
	size_t use = 0;
	int ret;

	if (is_zip(data, len))
		return intake_zip(ctx, data, len, src, level);

	has_pem = pki_find_bytes(data, len, PEM_BEGIN) != NULL;
	shape = der_shape(data, len, &use);
	if (shape == DER_YES) {
		bundle_mark(ctx, &m);
		ret = intake_der(ctx, data, use, src, "der", DER_ANY);
		if (ret != ERR_INVALID || !has_pem || ctx->key_failed)
			return ret;
		bundle_rollback(ctx, &m);
	}
	if (has_pem)
		return intake_pem(ctx, data, len, src);
	if (pki_is_base64_text(data, len)) {
		unsigned char *der = NULL;
		size_t der_len = 0;
		size_t i;

		for (i = 0; i < len && is_space(data[i]); i++)
			;
		if (i == len)
			return intake_fail(ctx, ERR_INVALID, WHY_EMPTY);
		ret = pki_base64_decode(data, len, &der, &der_len);
		if (ret == ERR_INVALID)
			return intake_fail(ctx, ERR_INVALID, WHY_UNRECOGNIZED);
		if (ret < 0)
			return ret;
		ret = intake_der(ctx, der, der_len, src, "base64", DER_ANY);
		buf_free(der, der_len);
		return ret;
	}
	if (shape == DER_TRUNCATED)
		return intake_fail(ctx, ERR_INVALID,
		                   "the DER data is truncated");
	return intake_fail(ctx, ERR_INVALID, WHY_UNRECOGNIZED);
}

int
pki_intake_add(struct pki_bundle *b, const unsigned char *data, size_t len,
               const char *name, const char *password,
               const struct pki_intake_limits *lim, const char **why)
{
	struct intake_ctx ctx;
	char *src = NULL;
	int ret;

	memset(&ctx, 0, sizeof(ctx));
	if (!b || !lim || (!data && len > 0)) {
		ret = intake_fail(&ctx, ERR_INVALID, "no input");
		goto cleanup;
	}
	if (len == 0) {
		ret = intake_fail(&ctx, ERR_INVALID, WHY_EMPTY);
		goto cleanup;
	}
	if (len > lim->max_input || len > lim->max_total ||
	    b->total > lim->max_total - len) {
		ret = intake_fail(&ctx, ERR_TOO_LARGE,
		                  len > lim->max_input
		                      ? "the upload is larger than the size "
		                        "limit"
		                      : "the uploads together are larger than "
		                        "the size limit");
		goto cleanup;
	}
	ctx.b = b;
	ctx.lim = lim;
	ctx.password = password;
	ctx.max_depth = lim->max_depth < INTAKE_MAX_DEPTH ? lim->max_depth
	                                                  : INTAKE_MAX_DEPTH;
	ctx.kdf_left = INTAKE_KDF_BUDGET;
	name = util_str_empty(name) ? "upload" : name;
	src = src_make("", "", name, strlen(name));
	if (!src) {
		ret = ERR_NOMEM;
		goto cleanup;
	}
	b->total += len;
	ret = intake_any(&ctx, data, len, src, 0);
cleanup:
	/* The errors that are the input's fault say why. */
	if ((ret == ERR_INVALID || ret == ERR_TOO_LARGE ||
	     ret == ERR_PASSWORD) &&
	    why && ctx.why)
		*why = ctx.why;
	free(src);
	if (ctx.chunk) {
		util_wipe(ctx.chunk, INTAKE_CHUNK);
		free(ctx.chunk);
	}
	return ret;
}

/* ---- bounded uploads ---------------------------------------------------- */

/* Contents octets of the key algorithms whose checks cost a bounded time. */
static const unsigned char oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7,
	                                 0x0d, 0x01, 0x01, 0x01 };
static const unsigned char oid_rsa_pss[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7,
	                                     0x0d, 0x01, 0x01, 0x0a };
static const unsigned char oid_ec[] = {
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01
};
static const unsigned char oid_ed25519[] = { 0x2b, 0x65, 0x70 };
static const unsigned char oid_ed448[] = { 0x2b, 0x65, 0x71 };

/* An RSA modulus of at most this many bytes (4,096 bits, and the leading
 * zero of its INTEGER), and a public exponent of at most 64 bits: a check
 * of a signature by it costs a public-key operation of RSA-4096 or less. */
#define CHEAP_RSA_N_BYTES 513
#define CHEAP_RSA_E_BYTES 8

/*
 * der[0..len) is a certificate within pki_der_cert_bounded()'s limits
 * whose public key is RSA (modulus and exponent as above), a named EC
 * curve or EdDSA: the key algorithms whose signature checks have a cost
 * bounded by the key alone. Anything else, or anything not read here, is
 * not cheap.
 */
static bool
cert_is_cheap(const unsigned char *der, size_t len)
{
	struct der cert, tbs, spki, alg, key, rsa, n, e, v;
	struct der_tlv el;

	if (pki_der_cert_bounded(der, len, NULL) < 0 ||
	    pki_der_one(der, len, DER_SEQUENCE, 0, &el) < 0)
		return false;
	cert = el.contents;
	if (pki_der_take(&cert, DER_SEQUENCE, &tbs) < 0)
		return false;
	if (pki_der_peek(&tbs, DER_CTX0) &&
	    pki_der_take(&tbs, DER_CTX0, &v) < 0)
		return false;
	if (pki_der_take(&tbs, DER_INTEGER, &v) < 0 ||     /* serial */
	    pki_der_take(&tbs, DER_SEQUENCE, &v) < 0 ||    /* signature */
	    pki_der_take(&tbs, DER_SEQUENCE, &v) < 0 ||    /* issuer */
	    pki_der_take(&tbs, DER_SEQUENCE, &v) < 0 ||    /* validity */
	    pki_der_take(&tbs, DER_SEQUENCE, &v) < 0 ||    /* subject */
	    pki_der_take(&tbs, DER_SEQUENCE, &spki) < 0 || /* its key */
	    pki_der_take(&spki, DER_SEQUENCE, &alg) < 0 ||
	    pki_der_take(&alg, DER_OID, &v) < 0 ||
	    pki_der_take(&spki, 0x03, &key) < 0) /* BIT STRING */
		return false;
	if (pki_der_oid_is(&v, oid_ed25519, sizeof(oid_ed25519)) ||
	    pki_der_oid_is(&v, oid_ed448, sizeof(oid_ed448)))
		return true;
	if (pki_der_oid_is(&v, oid_ec, sizeof(oid_ec)))
		return pki_der_peek(&alg, DER_OID); /* a named curve */
	if (!pki_der_oid_is(&v, oid_rsa, sizeof(oid_rsa)) &&
	    !pki_der_oid_is(&v, oid_rsa_pss, sizeof(oid_rsa_pss)))
		return false;
	if (key.len < 1 || key.p[0] != 0)
		return false;
	key.p++;
	key.len--;
	if (pki_der_take(&key, DER_SEQUENCE, &rsa) < 0 ||
	    pki_der_take(&rsa, DER_INTEGER, &n) < 0 ||
	    pki_der_take(&rsa, DER_INTEGER, &e) < 0)
		return false;
	return n.len <= CHEAP_RSA_N_BYTES && e.len <= CHEAP_RSA_E_BYTES;
}

bool
pki_intake_is_cheap(const unsigned char *text, size_t len, size_t max_certs)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	const unsigned char *p = text, *stop, *e;
	size_t n = 0;

	if (!text)
		return false;
	stop = text + len;
	for (;;) {
		unsigned char *der = NULL;
		size_t der_len = 0;
		bool cheap;

		while (p < stop && is_space(*p))
			p++;
		if (p == stop)
			return n > 0;
		if (n++ == max_certs ||
		    (size_t)(stop - p) < sizeof(begin) - 1 ||
		    memcmp(p, begin, sizeof(begin) - 1) != 0)
			return false;
		p += sizeof(begin) - 1;
		e = pki_find_bytes(p, (size_t)(stop - p), end);
		if (!e ||
		    pki_base64_decode(p, (size_t)(e - p), &der, &der_len) < 0)
			return false;
		cheap = cert_is_cheap(der, der_len);
		free(der); /* a certificate: nothing to wipe */
		if (!cheap)
			return false;
		p = e + sizeof(end) - 1;
	}
}
