/*
 * cert.c: X.509 certificates: what one says about itself, and whether one
 * signed another.
 *
 * pki_cert_parse() reads untrusted input (whatever a CA or a user uploads).
 * The DER is capped at 64 KiB and must be exactly one DER SEQUENCE (read
 * by pki/der.c, like every DER walk here); every list read from it (SANs,
 * EKU OIDs, OUs) is bounded; strings with an embedded NUL are refused. A
 * malformed extension makes the whole certificate unreadable rather than
 * silently absent, so that a broken basicConstraints or keyUsage can never
 * look like "no restriction". Failures on such input are the caller's
 * fault and are logged at debug level only. The readers of subject
 * values, dNSNames and PEM armour are shared with csr.c.
 *
 * Signature checks here are pure signature checks: the child's
 * TBSCertificate bytes are verified against the parent's public key with
 * gnutls_pubkey_verify_data2(), accepting SHA-1 and MD5. CA flags, key
 * usage, validity and the SHA-1 policy are checks (pki/verify.c), not
 * reasons to stop building a chain; gnutls_x509_crt_verify() would apply
 * all of them at once and could not tell us "signature ok, but the issuer
 * is not a CA".
 */
#include "pki/pki.h"
#include "pki/der.h"
#include "pki/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Real certificates are 1-3 KiB; a 4096-bit key with many SANs stays far
 * below this. */
#define CERT_MAX_DER (64 * 1024)
/* Bounds the SANs, EKU OIDs and OUs we read from one certificate. */
#define CERT_MAX_LIST 1000
/* Key identifiers and serials are ~20 bytes; anything near this is junk. */
#define CERT_MAX_ID 1024

/* Signature algorithms GnuTLS may not know but that are weaker than
 * SHA-2: md2WithRSA, md4WithRSA, md5WithRSA, sha1WithRSA (and the OIW
 * one), dsa-with-sha1, ecdsa-with-SHA1. */
static const char *const weak_sig_oids[] = {
	"1.2.840.113549.1.1.2", "1.2.840.113549.1.1.3", "1.2.840.113549.1.1.4",
	"1.2.840.113549.1.1.5", "1.3.14.3.2.29",        "1.2.840.10040.4.3",
	"1.2.840.10045.4.1",
};

/* ---- labels for one-line messages ----------------------------------- */

void
pki_text_label(const char *s, char *out, size_t size)
{
	size_t n = strlen(s), i;

	if (n > size - 1) {
		n = size - 4;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	if (n < strlen(s)) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

void
pki_cert_label(const struct pki_cert *c, char *out, size_t size)
{
	pki_text_label(!util_str_empty(c->common_name) ? c->common_name
	               : !util_str_empty(c->subject)   ? c->subject
	                                               : "(empty name)",
	               out, size);
}

/* ---- hashing ---------------------------------------------------------- */

static int
hash_hex(gnutls_digest_algorithm_t alg, size_t dlen, const void *data,
         size_t len, char *out)
{
	unsigned char digest[64];
	int ret;

	if ((!data && len > 0) || !out || dlen > sizeof(digest))
		return ERR_INVALID;
	ret = gnutls_hash_fast(alg, len ? data : "", len, digest);
	if (ret < 0) {
		log_error("pki: hash_fast: %s", gnutls_strerror(ret));
		return ERR_CRYPTO;
	}
	util_hex(digest, dlen, out);
	return 0;
}

int
pki_sha1_hex(const void *data, size_t len, char *out)
{
	return hash_hex(GNUTLS_DIG_SHA1, 20, data, len, out);
}

int
pki_sha384_hex(const void *data, size_t len, char *out)
{
	return hash_hex(GNUTLS_DIG_SHA384, 48, data, len, out);
}

/* ---- DER ------------------------------------------------------------- */

/*
 * The TBSCertificate element (header included) of a certificate's DER:
 * exactly the bytes its signature covers.
 */
static bool
der_tbs(const unsigned char *der, size_t len, gnutls_datum_t *tbs)
{
	struct der_tlv cert, el;

	if (pki_der_one(der, len, DER_SEQUENCE, 0, &cert) < 0 ||
	    pki_der_next(&cert.contents, 0, &el) < 0 ||
	    el.tag != DER_SEQUENCE || el.total > UINT_MAX)
		return false;
	tbs->data = (unsigned char *)(uintptr_t)el.start;
	tbs->size = (unsigned)el.total;
	return true;
}

/*
 * The SubjectPublicKeyInfo element of a certificate's DER, for keys GnuTLS
 * cannot import. TBSCertificate: [0] version OPTIONAL, serial, signature,
 * issuer, validity, subject, subjectPublicKeyInfo, ...
 */
static bool
der_spki(const unsigned char *der, size_t len, const unsigned char **spki,
         size_t *spki_len)
{
	gnutls_datum_t tbs;
	struct der_tlv el;
	struct der in;

	if (!der_tbs(der, len, &tbs) ||
	    pki_der_one(tbs.data, tbs.size, DER_SEQUENCE, 0, &el) < 0)
		return false;
	in = el.contents;
	if (pki_der_peek(&in, DER_CTX0) && pki_der_next(&in, 0, &el) < 0)
		return false;
	/* serial, signature, issuer, validity and subject */
	for (int i = 0; i < 5; i++) {
		if (pki_der_next(&in, 0, &el) < 0)
			return false;
	}
	if (pki_der_next(&in, 0, &el) < 0 || el.tag != DER_SEQUENCE)
		return false;
	*spki = el.start;
	*spki_len = el.total;
	return true;
}

/* ---- signatures ------------------------------------------------------- */

/*
 * true when crt's signature over its TBSCertificate verifies with pub.
 * Pure signature check: no CA, key usage, time or hash policy; SHA-1, MD5
 * (and MD2) signatures verify like any other. RSA-PSS is checked with
 * GnuTLS's default parameters for the algorithm (salt = hash length).
 */
static bool
cert_signature_verifies(gnutls_x509_crt_t crt, const unsigned char *der,
                        size_t der_len, gnutls_pubkey_t pub)
{
	unsigned char *sig = NULL;
	size_t sig_size = 0;
	gnutls_datum_t tbs, sd;
	int algo, ret;

	algo = gnutls_x509_crt_get_signature_algorithm(crt);
	if (algo <= 0 || !der_tbs(der, der_len, &tbs))
		return false;
	ret = gnutls_x509_crt_get_signature(crt, NULL, &sig_size);
	if (ret != GNUTLS_E_SHORT_MEMORY_BUFFER || sig_size == 0 ||
	    sig_size > CERT_MAX_DER)
		return false;
	sig = malloc(sig_size);
	if (!sig)
		return false;
	ret = gnutls_x509_crt_get_signature(crt, (char *)sig, &sig_size);
	if (ret < 0) {
		free(sig);
		return false;
	}
	sd.data = sig;
	sd.size = (unsigned)sig_size;
	ret = gnutls_pubkey_verify_data2(pub, (gnutls_sign_algorithm_t)algo,
	                                 GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1 |
	                                     GNUTLS_VERIFY_ALLOW_BROKEN,
	                                 &tbs, &sd);
	free(sig);
	return ret >= 0;
}

/* Imports DER already checked by pki_cert_parse(). NULL on any error. */
static gnutls_x509_crt_t
crt_from_der(const unsigned char *der, size_t len)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d;

	if (!der || len == 0 || len > CERT_MAX_DER)
		return NULL;
	if (gnutls_x509_crt_init(&crt) < 0)
		return NULL;
	d.data = (unsigned char *)(uintptr_t)der;
	d.size = (unsigned)len;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		return NULL;
	}
	return crt;
}

/* true when child's signature verifies with the key of issuer_crt. */
static bool
crt_signed_by_crt(gnutls_x509_crt_t child, const unsigned char *child_der,
                  size_t child_len, gnutls_x509_crt_t issuer_crt)
{
	gnutls_pubkey_t pub = NULL;
	bool ok = false;

	if (gnutls_pubkey_init(&pub) < 0)
		return false;
	if (gnutls_pubkey_import_x509(pub, issuer_crt, 0) >= 0)
		ok = cert_signature_verifies(child, child_der, child_len, pub);
	gnutls_pubkey_deinit(pub);
	return ok;
}

/* Keeps what signature checks need besides the public key (cert_get_key
 * keeps that): the algorithm and the signature. */
static void
cert_keep_signature(gnutls_x509_crt_t crt, struct pki_cert *c)
{
	size_t n = 0;
	int algo = gnutls_x509_crt_get_signature_algorithm(crt);

	if (algo > 0 &&
	    gnutls_x509_crt_get_signature(crt, NULL, &n) ==
	        GNUTLS_E_SHORT_MEMORY_BUFFER &&
	    n > 0 && n <= CERT_MAX_DER) {
		c->sig = malloc(n);
		if (c->sig && gnutls_x509_crt_get_signature(crt, (char *)c->sig,
		                                            &n) >= 0) {
			c->sig_len = n;
			c->sig_algo = algo;
		} else {
			free(c->sig);
			c->sig = NULL;
		}
	}
}

/* true when c's signature verifies with pub (the kept key of c itself or
 * of its issuer). */
static bool
kept_signature_verifies(const struct pki_cert *c, gnutls_pubkey_t pub)
{
	gnutls_datum_t tbs, sd;

	if (!c->sig || !pub || !der_tbs(c->der, c->der_len, &tbs))
		return false;
	sd.data = c->sig;
	sd.size = (unsigned)c->sig_len;
	return gnutls_pubkey_verify_data2(pub,
	                                  (gnutls_sign_algorithm_t)c->sig_algo,
	                                  GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1 |
	                                      GNUTLS_VERIFY_ALLOW_BROKEN,
	                                  &tbs, &sd) >= 0;
}

bool
pki_cert_is_signed_by(const struct pki_cert *child,
                      const struct pki_cert *parent)
{
	gnutls_x509_crt_t c = NULL, p = NULL;
	bool ok = false;
	int kept;

	if (!child || !parent || !child->issuer_raw || !parent->subject_raw)
		return false;
	if (child->issuer_raw_len != parent->subject_raw_len ||
	    memcmp(child->issuer_raw, parent->subject_raw,
	           child->issuer_raw_len) != 0)
		return false;
	if (child->aki && parent->ski && strcmp(child->aki, parent->ski) != 0)
		return false;
	/* between two CA certificates the cache holds, the answer is kept:
	 * the same CA signed the same intermediate in every upload */
	kept = pki_certcache_verdict(child, parent);
	if (kept >= 0)
		return kept == 1;
	if (child->sig && parent->pubkey) {
		ok = kept_signature_verifies(child,
		                             (gnutls_pubkey_t)parent->pubkey);
		pki_certcache_verdict_keep(child, parent, ok);
		return ok;
	}
	c = crt_from_der(child->der, child->der_len);
	p = crt_from_der(parent->der, parent->der_len);
	if (c && p)
		ok = crt_signed_by_crt(c, child->der, child->der_len, p);
	if (c)
		gnutls_x509_crt_deinit(c);
	if (p)
		gnutls_x509_crt_deinit(p);
	return ok;
}

/* ---- parse ------------------------------------------------------------ */

static void
str_list_free(char **list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void
pki_cert_free(struct pki_cert *c)
{
	if (!c)
		return;
	/* shared by the cache of CA certificates: the last holder frees */
	if (c->shared && atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	free(c->der);
	free(c->subject);
	free(c->issuer);
	free(c->common_name);
	free(c->serial);
	free(c->key_algorithm);
	free(c->sig_algorithm);
	free(c->ski);
	free(c->aki);
	str_list_free(c->dns_names, c->dns_count);
	free(c->subject_raw);
	free(c->issuer_raw);
	free(c->sig);
	if (c->pubkey)
		gnutls_pubkey_deinit((gnutls_pubkey_t)c->pubkey);
	free(c);
}

/*
 * Text from a certificate (a name, a SAN) as a C string. A NUL inside is
 * refused. A byte that does not start a well-formed UTF-8 character (a
 * T61String in Latin-1, a damaged name) becomes U+FFFD, so that every
 * answer and log line stays UTF-8; names are compared as DER elsewhere,
 * never as this text.
 */
int
pki_dup_str(const void *data, size_t len, char **out)
{
	static const char repl[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *p = data;
	size_t bad = 0, i, o = 0;
	uint32_t cp;
	char *s;

	if (len > 0 && memchr(data, 0, len))
		return ERR_INVALID;
	for (i = 0; i < len;) {
		size_t l = util_utf8_char(p + i, len - i, &cp);

		bad += l == 0;
		i += l ? l : 1;
	}
	s = malloc(len + 2 * bad + 1);
	if (!s)
		return ERR_NOMEM;
	for (i = 0; i < len;) {
		size_t l = util_utf8_char(p + i, len - i, &cp);

		if (l == 0) {
			memcpy(s + o, repl, 3);
			o += 3;
			i++;
		} else {
			memcpy(s + o, p + i, l);
			o += l;
			i += l;
		}
	}
	s[o] = '\0';
	*out = s;
	return 0;
}

int
pki_err_from_input(int gnutls_ret, const char *step)
{
	if (gnutls_ret == GNUTLS_E_MEMORY_ERROR)
		return ERR_NOMEM;
	log_debug("pki: %s: %s", step, gnutls_strerror(gnutls_ret));
	return ERR_INVALID;
}

/* get_dn3 / get_issuer_dn3: RFC 4514 text; an empty DN is "". */
static int
cert_get_dn(gnutls_x509_crt_t crt, bool issuer, char **out, const char **why)
{
	gnutls_datum_t d = { NULL, 0 };
	int ret;

	ret = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &d, 0)
	             : gnutls_x509_crt_get_dn3(crt, &d, 0);
	if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return pki_dup_str("", 0, out);
	if (ret < 0) {
		*why = issuer ? "certificate issuer name is malformed"
		              : "certificate subject name is malformed";
		return pki_err_from_input(ret, issuer ? "crt_get_issuer_dn3"
		                                      : "crt_get_dn3");
	}
	ret = pki_dup_str(d.data, d.size, out);
	gnutls_free(d.data);
	if (ret == ERR_INVALID)
		*why = "certificate name contains a NUL byte";
	return ret;
}

/* Raw DER of the subject or issuer Name, malloc'd. */
static int
cert_get_raw_dn(gnutls_x509_crt_t crt, bool issuer, unsigned char **out,
                size_t *out_len, const char **why)
{
	gnutls_datum_t d = { NULL, 0 };
	unsigned char *buf;
	int ret;

	ret = issuer ? gnutls_x509_crt_get_raw_issuer_dn(crt, &d)
	             : gnutls_x509_crt_get_raw_dn(crt, &d);
	if (ret < 0) {
		*why = "certificate name is malformed";
		return pki_err_from_input(ret, "crt_get_raw_dn");
	}
	buf = malloc(d.size ? d.size : 1);
	if (!buf) {
		gnutls_free(d.data);
		return ERR_NOMEM;
	}
	if (d.size)
		memcpy(buf, d.data, d.size);
	*out = buf;
	*out_len = d.size;
	gnutls_free(d.data);
	return 0;
}

/* What pki_dn_value() and pki_san_dns_names() say, by object kind. */
enum reader_why {
	WHY_DN_BAD,
	WHY_DN_NUL,
	WHY_SAN_BAD,
	WHY_SAN_MANY,
	WHY_SAN_NUL,
	WHY_COUNT
};

static const char *const reader_why[][WHY_COUNT] = {
	[PKI_OBJ_CERT] = {
		[WHY_DN_BAD] = "certificate subject is malformed",
		[WHY_DN_NUL] = "certificate subject contains a NUL byte",
		[WHY_SAN_BAD] = "certificate subjectAltName extension is "
		                "malformed",
		[WHY_SAN_MANY] = "certificate has too many subjectAltName "
		                 "entries",
		[WHY_SAN_NUL] = "certificate dNSName contains a NUL byte",
	},
	[PKI_OBJ_CSR] = {
		[WHY_DN_BAD] = "CSR subject is malformed",
		[WHY_DN_NUL] = "CSR subject contains a NUL byte",
		[WHY_SAN_BAD] = "CSR subjectAltName extension is malformed",
		[WHY_SAN_MANY] = "CSR has too many subjectAltName entries",
		[WHY_SAN_NUL] = "CSR dNSName contains a NUL byte",
	},
};

int
pki_dn_value(pki_dn_getter get, void *obj, const char *oid, unsigned idx,
             enum pki_obj kind, char **out, const char **why)
{
	unsigned char *buf = NULL;
	size_t size = 0;
	int ret;

	ret = get(obj, oid, idx, NULL, &size);
	if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return 0;
	if (ret >= 0) {
		/* Nothing to copy: an empty value. */
		ret = pki_dup_str("", 0, out);
		return ret < 0 ? ret : 1;
	}
	if (ret != GNUTLS_E_SHORT_MEMORY_BUFFER || size > CERT_MAX_DER)
		goto bad;
	buf = malloc(size + 1);
	if (!buf)
		return ERR_NOMEM;
	ret = get(obj, oid, idx, buf, &size);
	if (ret < 0)
		goto bad;
	/* size excludes the terminating NUL GnuTLS writes. */
	ret = pki_dup_str(buf, size, out);
	free(buf);
	if (ret < 0) {
		*why = reader_why[kind][WHY_DN_NUL];
		return ret;
	}
	pki_rfc4514_unescape(*out);
	return 1;
bad:
	free(buf);
	*why = reader_why[kind][WHY_DN_BAD];
	return ret >= 0 ? ERR_INVALID
	                : pki_err_from_input(ret, "get_dn_by_oid");
}

int
pki_san_dns_names(int ext_ret, gnutls_datum_t *ext, enum pki_obj kind,
                  char ***out, size_t *count, const char **why)
{
	gnutls_subject_alt_names_t sans = NULL;
	char **list = NULL;
	size_t want = 0, n = 0;
	int ret = ext_ret;

	*out = NULL;
	*count = 0;
	if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return 0;
	if (ret < 0) {
		ext->data = NULL;
		goto bad;
	}
	ret = gnutls_subject_alt_names_init(&sans);
	if (ret < 0) {
		sans = NULL;
		goto bad;
	}
	ret = gnutls_x509_ext_import_subject_alt_names(ext, sans, 0);
	if (ret < 0)
		goto bad;

	/* Two passes: count the dNSNames, then copy them. */
	for (unsigned i = 0;; i++) {
		gnutls_datum_t name, oid;
		unsigned type;

		if (i >= CERT_MAX_LIST) {
			*why = reader_why[kind][WHY_SAN_MANY];
			ret = ERR_INVALID;
			goto cleanup;
		}
		ret = gnutls_subject_alt_names_get(sans, i, &type, &name, &oid);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (ret < 0)
			goto bad;
		if (type == GNUTLS_SAN_DNSNAME)
			want++;
	}
	if (want > 0) {
		list = calloc(want, sizeof(*list));
		if (!list) {
			ret = ERR_NOMEM;
			goto cleanup;
		}
	}
	for (unsigned i = 0; n < want; i++) {
		gnutls_datum_t name, oid;
		unsigned type;

		ret = gnutls_subject_alt_names_get(sans, i, &type, &name, &oid);
		if (ret < 0)
			goto bad;
		if (type != GNUTLS_SAN_DNSNAME)
			continue;
		ret = pki_dup_str(name.data, name.size, &list[n]);
		if (ret < 0) {
			if (ret == ERR_INVALID)
				*why = reader_why[kind][WHY_SAN_NUL];
			goto cleanup;
		}
		n++;
	}
	*out = list;
	*count = n;
	list = NULL;
	ret = 0;
	goto cleanup;
bad:
	*why = reader_why[kind][WHY_SAN_BAD];
	ret = pki_err_from_input(ret, "subjectAltName");
cleanup:
	str_list_free(list, n);
	if (sans)
		gnutls_subject_alt_names_deinit(sans);
	gnutls_free(ext->data);
	ext->data = NULL;
	return ret;
}

/* gnutls_x509_crt_get_dn_by_oid() as a pki_dn_getter. */
static int
crt_dn_by_oid(void *obj, const char *oid, unsigned idx, void *buf, size_t *size)
{
	return gnutls_x509_crt_get_dn_by_oid((gnutls_x509_crt_t)obj, oid, idx,
	                                     0, buf, size);
}

static int
cert_get_names(gnutls_x509_crt_t crt, struct pki_cert *c, const char **why)
{
	int ret;

	ret = cert_get_dn(crt, false, &c->subject, why);
	if (ret < 0)
		return ret;
	ret = cert_get_dn(crt, true, &c->issuer, why);
	if (ret < 0)
		return ret;
	ret = cert_get_raw_dn(crt, false, &c->subject_raw, &c->subject_raw_len,
	                      why);
	if (ret < 0)
		return ret;
	ret =
	    cert_get_raw_dn(crt, true, &c->issuer_raw, &c->issuer_raw_len, why);
	if (ret < 0)
		return ret;
	ret = pki_dn_value(crt_dn_by_oid, crt, GNUTLS_OID_X520_COMMON_NAME, 0,
	                   PKI_OBJ_CERT, &c->common_name, why);
	if (ret < 0)
		return ret;

	/* Any OU of the subject may carry the AMT marker. */
	for (unsigned i = 0; i < CERT_MAX_LIST; i++) {
		char *ou = NULL;

		ret = pki_dn_value(crt_dn_by_oid, crt,
		                   GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, i,
		                   PKI_OBJ_CERT, &ou, why);
		if (ret < 0)
			return ret;
		if (ret == 0)
			break;
		if (strcmp(ou, PKI_AMT_OU) == 0)
			c->has_amt_ou = true;
		free(ou);
	}
	c->self_issued =
	    c->subject_raw_len == c->issuer_raw_len &&
	    memcmp(c->subject_raw, c->issuer_raw, c->subject_raw_len) == 0;
	return 0;
}

static int
cert_get_serial(gnutls_x509_crt_t crt, struct pki_cert *c, const char **why)
{
	unsigned char buf[CERT_MAX_ID];
	size_t size = sizeof(buf);
	int ret;

	ret = gnutls_x509_crt_get_serial(crt, buf, &size);
	if (ret < 0) {
		*why = "certificate serial number is unreadable";
		return pki_err_from_input(ret, "crt_get_serial");
	}
	c->serial = malloc(2 * size + 1);
	if (!c->serial)
		return ERR_NOMEM;
	util_hex(buf, size, c->serial);
	return 0;
}

static int
cert_get_validity(gnutls_x509_crt_t crt, struct pki_cert *c, const char **why)
{
	time_t nb = gnutls_x509_crt_get_activation_time(crt);
	time_t na = gnutls_x509_crt_get_expiration_time(crt);

	if (nb == (time_t)-1 || na == (time_t)-1) {
		*why = "certificate validity dates are unreadable";
		return ERR_INVALID;
	}
	c->not_before = (int64_t)nb;
	c->not_after = (int64_t)na;
	return 0;
}

/*
 * Key algorithm, size and the SPKI fingerprint. The fingerprint hashes
 * gnutls_pubkey_export2() output, exactly as pki_csr_create() and
 * pki_csr_parse() do, so a leaf matches its CSR byte for byte; keys GnuTLS
 * cannot import fall back to the SPKI bytes as found.
 */
static int
cert_get_key(gnutls_x509_crt_t crt, struct pki_cert *c, const char **why)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t spki = { NULL, 0 };
	const unsigned char *raw;
	size_t raw_len;
	unsigned bits = 0;
	int pk, ret;

	pk = gnutls_x509_crt_get_pk_algorithm(crt, &bits);
	if (pk < 0) {
		*why = "certificate public key is unreadable";
		return pki_err_from_input(pk, "crt_get_pk_algorithm");
	}
	c->key_algorithm = strdup(pki_pk_name(pk));
	if (!c->key_algorithm)
		return ERR_NOMEM;
	c->key_bits = bits;

	ret = gnutls_pubkey_init(&pub);
	if (ret < 0) {
		log_error("pki: pubkey_init: %s", gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	ret = gnutls_pubkey_import_x509(pub, crt, 0);
	if (ret >= 0) {
		/* kept for signature checks: imported once */
		c->pubkey = pub;
		pub = NULL;
		ret = gnutls_pubkey_export2((gnutls_pubkey_t)c->pubkey,
		                            GNUTLS_X509_FMT_DER, &spki);
		if (ret < 0)
			spki.data = NULL;
	}
	if (ret == GNUTLS_E_MEMORY_ERROR) {
		ret = ERR_NOMEM;
	} else if (ret >= 0) {
		ret = pki_sha256_hex(spki.data, spki.size, c->spki_sha256);
	} else if (der_spki(c->der, c->der_len, &raw, &raw_len)) {
		log_debug("pki: certificate key not importable: %s",
		          gnutls_strerror(ret));
		ret = pki_sha256_hex(raw, raw_len, c->spki_sha256);
	} else {
		*why = "certificate public key is unreadable";
		ret = ERR_INVALID;
	}
	gnutls_free(spki.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	return ret;
}

static bool
oid_is_weak_sig(const char *oid)
{
	for (size_t i = 0; i < sizeof(weak_sig_oids) / sizeof(weak_sig_oids[0]);
	     i++) {
		if (strcmp(oid, weak_sig_oids[i]) == 0)
			return true;
	}
	return false;
}

/* Signature algorithm name ("RSA-SHA256", or the OID when GnuTLS does
 * not know it) and whether it hashes with SHA-1 or weaker. */
static int
cert_get_sig(gnutls_x509_crt_t crt, struct pki_cert *c, const char **why)
{
	char oid[128];
	size_t size = sizeof(oid);
	const char *name = NULL;
	int sig, ret;

	sig = gnutls_x509_crt_get_signature_algorithm(crt);
	if (sig < 0) {
		*why = "certificate signature algorithm is unreadable";
		return pki_err_from_input(sig, "crt_get_signature_algorithm");
	}
	if (sig > 0) {
		gnutls_digest_algorithm_t h = gnutls_sign_get_hash_algorithm(
		    (gnutls_sign_algorithm_t)sig);

		name = gnutls_sign_get_name((gnutls_sign_algorithm_t)sig);
		c->sig_sha1 = h == GNUTLS_DIG_SHA1 || h == GNUTLS_DIG_MD5 ||
		              h == GNUTLS_DIG_MD2;
	}
	ret = gnutls_x509_crt_get_signature_oid(crt, oid, &size);
	if (ret < 0) {
		*why = "certificate signature algorithm is unreadable";
		return pki_err_from_input(ret, "crt_get_signature_oid");
	}
	if (oid_is_weak_sig(oid))
		c->sig_sha1 = true;
	if (!name) {
		ret = pki_dup_str(oid, strlen(oid), &c->sig_algorithm);
		return ret;
	}
	c->sig_algorithm = strdup(name);
	return c->sig_algorithm ? 0 : ERR_NOMEM;
}

typedef int (*key_id_getter)(gnutls_x509_crt_t, void *, size_t *,
                             unsigned int *);

/* SKI or AKI keyIdentifier as hex, NULL when absent. */
static int
cert_get_key_id(gnutls_x509_crt_t crt, key_id_getter get, char **out,
                const char **why)
{
	unsigned char buf[CERT_MAX_ID];
	size_t size = sizeof(buf);
	unsigned critical = 0;
	int ret;

	ret = get(crt, buf, &size, &critical);
	/* An AKI with only issuer and serial has no keyIdentifier. */
	if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE ||
	    ret == GNUTLS_E_X509_UNSUPPORTED_EXTENSION)
		return 0;
	if (ret < 0) {
		*why = "certificate key identifier extension is malformed";
		return pki_err_from_input(ret, "crt_get_key_id");
	}
	if (size == 0)
		return 0;
	*out = malloc(2 * size + 1);
	if (!*out)
		return ERR_NOMEM;
	util_hex(buf, size, *out);
	return 0;
}

static int
cert_get_constraints(gnutls_x509_crt_t crt, struct pki_cert *c,
                     const char **why)
{
	unsigned critical = 0, ca = 0, ku = 0;
	int pathlen = -1, ret;

	ret = gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca,
	                                            &pathlen);
	if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		c->path_len = -1;
	} else if (ret < 0) {
		*why = "certificate basicConstraints extension is malformed";
		return pki_err_from_input(ret, "crt_get_basic_constraints");
	} else {
		c->has_basic_constraints = true;
		c->is_ca = ca != 0;
		c->path_len = pathlen < 0 ? -1 : pathlen;
	}

	ret = gnutls_x509_crt_get_key_usage(crt, &ku, &critical);
	if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return 0;
	if (ret < 0) {
		*why = "certificate keyUsage extension is malformed";
		return pki_err_from_input(ret, "crt_get_key_usage");
	}
	c->has_key_usage = true;
	c->ku_cert_sign = (ku & GNUTLS_KEY_KEY_CERT_SIGN) != 0;
	c->ku_digital_signature = (ku & GNUTLS_KEY_DIGITAL_SIGNATURE) != 0;
	c->ku_key_encipherment = (ku & GNUTLS_KEY_KEY_ENCIPHERMENT) != 0;
	return 0;
}

/* Matches a GnuTLS OID datum (size may or may not count a NUL). */
static bool
datum_is_oid(const gnutls_datum_t *d, const char *oid)
{
	size_t n = strlen(oid), len = d->size;

	if (len > 0 && d->data[len - 1] == '\0')
		len--;
	return len == n && memcmp(d->data, oid, n) == 0;
}

static int
cert_get_eku(gnutls_x509_crt_t crt, struct pki_cert *c, const char **why)
{
	gnutls_datum_t ext = { NULL, 0 };
	gnutls_x509_key_purposes_t kp = NULL;
	unsigned critical = 0;
	int ret;

	ret = gnutls_x509_crt_get_extension_by_oid2(
	    crt, GNUTLS_X509EXT_OID_EXTENDED_KEY_USAGE, 0, &ext, &critical);
	if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return 0;
	if (ret < 0) {
		ext.data = NULL;
		goto bad;
	}
	ret = gnutls_x509_key_purpose_init(&kp);
	if (ret < 0) {
		kp = NULL;
		goto bad;
	}
	ret = gnutls_x509_ext_import_key_purposes(&ext, kp, 0);
	if (ret < 0)
		goto bad;
	c->has_eku = true;
	for (unsigned i = 0;; i++) {
		gnutls_datum_t oid;

		if (i >= CERT_MAX_LIST) {
			*why = "certificate has too many extendedKeyUsage "
			       "entries";
			ret = ERR_INVALID;
			goto cleanup;
		}
		ret = gnutls_x509_key_purpose_get(kp, i, &oid);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (ret < 0)
			goto bad;
		if (datum_is_oid(&oid, PKI_OID_SERVERAUTH))
			c->eku_server_auth = true;
		else if (datum_is_oid(&oid, PKI_OID_AMT))
			c->eku_amt = true;
		else if (datum_is_oid(&oid, GNUTLS_KP_ANY))
			c->eku_any = true;
	}
	ret = 0;
	goto cleanup;
bad:
	*why = "certificate extendedKeyUsage extension is malformed";
	ret = pki_err_from_input(ret, "crt extendedKeyUsage");
cleanup:
	if (kp)
		gnutls_x509_key_purpose_deinit(kp);
	gnutls_free(ext.data);
	return ret;
}

/* The dNSName SANs, in order; other SAN types are skipped. */
static int
cert_get_sans(gnutls_x509_crt_t crt, struct pki_cert *c, const char **why)
{
	gnutls_datum_t ext = { NULL, 0 };
	unsigned critical = 0;
	int ret;

	ret = gnutls_x509_crt_get_extension_by_oid2(crt, GNUTLS_X509EXT_OID_SAN,
	                                            0, &ext, &critical);
	return pki_san_dns_names(ret, &ext, PKI_OBJ_CERT, &c->dns_names,
	                         &c->dns_count, why);
}

/* Everything of c but its DER and SHA-256, which the caller set. */
static int
cert_fill(gnutls_x509_crt_t crt, struct pki_cert *c, const char **why)
{
	int ret;

	ret = pki_sha1_hex(c->der, c->der_len, c->sha1);
	if (ret == 0)
		ret = pki_sha384_hex(c->der, c->der_len, c->sha384);
	if (ret == 0)
		ret = cert_get_names(crt, c, why);
	if (ret == 0)
		ret = cert_get_serial(crt, c, why);
	if (ret == 0)
		ret = cert_get_validity(crt, c, why);
	if (ret == 0)
		ret = cert_get_key(crt, c, why);
	if (ret == 0)
		ret = cert_get_sig(crt, c, why);
	if (ret == 0)
		ret = cert_get_key_id(crt, gnutls_x509_crt_get_subject_key_id,
		                      &c->ski, why);
	if (ret == 0)
		ret = cert_get_key_id(crt, gnutls_x509_crt_get_authority_key_id,
		                      &c->aki, why);
	if (ret == 0)
		ret = cert_get_constraints(crt, c, why);
	if (ret == 0)
		ret = cert_get_eku(crt, c, why);
	if (ret == 0)
		ret = cert_get_sans(crt, c, why);
	if (ret < 0)
		return ret;
	cert_keep_signature(crt, c);
	c->self_signed = c->self_issued &&
	                 kept_signature_verifies(c, (gnutls_pubkey_t)c->pubkey);
	return 0;
}

int
pki_cert_parse(const unsigned char *der, size_t len, struct pki_cert **out,
               const char **why)
{
	return pki_cert_parse_digest(der, len, NULL, out, why);
}

int
pki_cert_parse_digest(const unsigned char *der, size_t len,
                      const unsigned char *sha256, struct pki_cert **out,
                      const char **why)
{
	unsigned char key[PKI_CERTCACHE_KEY_LEN];
	gnutls_x509_crt_t crt = NULL;
	struct pki_cert *c = NULL;
	const char *reason = NULL;
	struct der_tlv tlv;
	gnutls_datum_t d;
	int ret;

	if (!der || len == 0 || !out) {
		reason = "no input";
		ret = ERR_INVALID;
		goto cleanup;
	}
	if (len > CERT_MAX_DER) {
		reason = "certificate is larger than 64 KiB";
		ret = ERR_INVALID;
		goto cleanup;
	}
	if (pki_der_one(der, len, DER_SEQUENCE, 0, &tlv) < 0) {
		reason = "certificate is not valid DER";
		ret = ERR_INVALID;
		goto cleanup;
	}
	if (sha256) {
		memcpy(key, sha256, sizeof(key));
	} else {
		ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, key);
		if (ret < 0) {
			log_error("pki: hash_fast: %s", gnutls_strerror(ret));
			ret = ERR_CRYPTO;
			goto cleanup;
		}
	}
	/* a CA certificate parsed before (certcache.c says why they recur) */
	c = pki_certcache_find(key);
	if (c) {
		*out = c;
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		ret = ERR_NOMEM;
		goto cleanup;
	}
	c->der = malloc(len);
	if (!c->der) {
		ret = ERR_NOMEM;
		goto cleanup;
	}
	memcpy(c->der, der, len);
	c->der_len = len;
	util_hex(key, sizeof(key), c->sha256);

	ret = gnutls_x509_crt_init(&crt);
	if (ret < 0) {
		log_error("pki: crt_init: %s", gnutls_strerror(ret));
		crt = NULL;
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	d.data = c->der;
	d.size = (unsigned)len;
	ret = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
	if (ret < 0) {
		reason = "certificate is not valid DER";
		ret = pki_err_from_input(ret, "crt_import");
		goto cleanup;
	}
	ret = cert_fill(crt, c, &reason);
	if (ret < 0)
		goto cleanup;
	pki_certcache_add(c, key);
	*out = c;
	c = NULL;
	ret = 0;
cleanup:
	if (ret == ERR_INVALID && why)
		*why = reason ? reason : "certificate is invalid";
	pki_cert_free(c);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	return ret;
}

int
pki_pem_encode(const char *label, const unsigned char *der, size_t len,
               char **out)
{
	gnutls_datum_t d, pem = { NULL, 0 };
	char *s;
	int ret;

	if (!der || len == 0 || len > UINT_MAX || !out)
		return ERR_INVALID;
	d.data = (unsigned char *)(uintptr_t)der;
	d.size = (unsigned)len;
	ret = gnutls_pem_base64_encode2(label, &d, &pem);
	if (ret < 0) {
		log_error("pki: pem_base64_encode2: %s", gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	s = malloc((size_t)pem.size + 1);
	if (!s) {
		gnutls_free(pem.data);
		return ERR_NOMEM;
	}
	memcpy(s, pem.data, pem.size);
	s[pem.size] = '\0';
	gnutls_free(pem.data);
	*out = s;
	return 0;
}

int
pki_cert_to_pem(const struct pki_cert *c, char **pem)
{
	if (!c || !c->der || c->der_len == 0 || c->der_len > CERT_MAX_DER ||
	    !pem)
		return ERR_INVALID;
	return pki_pem_encode("CERTIFICATE", c->der, c->der_len, pem);
}
