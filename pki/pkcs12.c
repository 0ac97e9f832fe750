/*
 * pkcs12.c: the PFX handed to AMT consoles (amt-facts.md section 3), and
 * the check that re-reads it the way they will.
 *
 * Layout written (and the only one pki_p12_check() accepts):
 *
 *   PFX { version 3,
 *         authSafe: ContentInfo data: AuthenticatedSafe {
 *           [0] ContentInfo encryptedData: SafeContents {
 *                 certBag leaf (friendlyName, localKeyId),
 *                 certBag certs[1], ..., certBag root }
 *           [1] ContentInfo data: SafeContents {
 *                 pkcs8ShroudedKeyBag (friendlyName, localKeyId) } },
 *         macData: SHA-256 }
 *
 * Two ContentInfos because go-pkcs12 refuses more; the key shrouded
 * because node-forge (RPS, MeshCentral) reads no plain keyBag. The MAC,
 * the certificates' encryption and the key's use one iteration count,
 * the caller's (PKI_P12_ITER_DEFAULT = 2,048, OpenSSL 3's
 * PKCS12_DEFAULT_ITER, unless asked otherwise).
 *
 * Who writes and who reads. The iteration count is what the consoles pay:
 * node-forge runs the PKCS#12 KDF and PBKDF2 in JavaScript on Node's one
 * thread, and RPS decodes the PFX on every device activation. GnuTLS
 * 3.7.9, which wrote the PFX until issue 9, fixes the count when it is
 * built (600,000 on Debian 12) and no GnuTLS 3.7 API changes it: node-forge
 * spent 5 to 7 s on each of our files, 150 times what it spends on an
 * `openssl pkcs12 -export` one. So OpenSSL 3's libcrypto WRITES the PFX
 * with our count, and GnuTLS stays the independent READER that re-checks
 * every export (pki_p12_check(), below). The other way was a writer of our
 * own on libtasn1 and GnuTLS primitives (gnutls_pbkdf2, gnutls_cipher_*,
 * gnutls_hmac) with the RFC 7292 appendix B key derivation. Not chosen:
 *  - it is a few hundred lines of new cryptographic encoding (the PKCS#12
 *    KDF with its BMPString password, PBES2 parameters, PKCS#7
 *    encryptedData, padding, the MAC), each needing known-answer vectors,
 *    for bytes that OpenSSL has written for two decades and that every
 *    console is tested against (the benchmark's peer is `openssl pkcs12
 *    -export`, i.e. this very code);
 *  - the check would read with the library whose primitives wrote the
 *    file, so a misunderstanding shared by writer and reader would pass
 *    both. OpenSSL writing and GnuTLS reading are two implementations,
 *    and the tests add openssl, certtool, node-forge and go-pkcs12;
 *  - the price is one more library, Debian 12's libssl3 (3.0.x, patched
 *    by Debian), linked PRIVATE to pki/ only: scripts/check-layers.sh
 *    refuses OpenSSL symbols and headers in every other module.
 * The lower-level calls (PKCS12_pack_p7encdata_ex, PKCS12_pack_p7data,
 * PKCS12_add_safes_ex, PKCS12_set_mac) are used rather than
 * PKCS12_create_ex() because the latter wants the key as an EVP_PKEY and
 * the certificates as X509 objects: the key would be parsed into numbers
 * once more and the certificates re-encoded from OpenSSL's parse. Here the
 * key goes from our PKCS#8 DER into a PKCS8_PRIV_KEY_INFO (whose free
 * wipes it) and straight into its encryption, and each certBag carries the
 * exact DER we were given. They also set each salt: 8 bytes for the
 * PKCS#12 PBE and the MAC (what every OpenSSL writes and Windows Server
 * 2016 reads), 16 for PBKDF2 (what OpenSSL 3.2 and later write; NIST SP
 * 800-132 asks for 128 bits).
 *
 * At the default count an export and its check take a few milliseconds of
 * CPU; at PKI_P12_ITER_MAX about a second: call them off the request
 * threads.
 *
 * The check reads the algorithm identifiers and iteration counts itself
 * (with pki/der.c) rather than trusting GnuTLS's schema numbers, so that
 * the PBES2 PRF, which no GnuTLS 3.7 API reports, is checked too.
 * (OpenSSL writes hmacWithSHA256 with NULL parameters, GnuTLS without;
 * both forms are accepted.)
 */
#include "pki/pki.h"
#include "pki/der.h"
#include "pki/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

/* OpenSSL 3.0 API, nothing deprecated. */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define P12_PASSWORD_MIN 8
#define P12_PASSWORD_MAX 64
/* Characters of a friendlyName (a CN is at most 64). */
#define P12_NAME_MAX 255
/* A PFX of three certificates is ~4 KiB; refuse absurd inputs. */
#define P12_MAX_DER (1024 * 1024)
/* Salt bytes: the PKCS#12 PBE and the MAC (PKCS5_SALT_LEN and
 * PKCS12_SALT_LEN, 8), PBKDF2 (16: OpenSSL >= 3.2, NIST SP 800-132). */
#define P12_SALT_PKCS12 8
#define P12_SALT_PBKDF2 16
/* localKeyId: the SHA-1 of the leaf's DER, as OpenSSL writes it. */
#define P12_KEY_ID_LEN 20

/* DER of the OIDs the profiles use (contents octets only). */
static const unsigned char OID_PBE_SHA1_3DES[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x03
}; /* 1.2.840.113549.1.12.1.3 pbeWithSHAAnd3-KeyTripleDES-CBC */
static const unsigned char OID_PBES2[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d
}; /* 1.2.840.113549.1.5.13 */
static const unsigned char OID_PBKDF2[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c
}; /* 1.2.840.113549.1.5.12 */
static const unsigned char OID_HMAC_SHA256[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09
}; /* 1.2.840.113549.2.9 hmacWithSHA256 */
static const unsigned char OID_AES256_CBC[] = {
	0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a
}; /* 2.16.840.1.101.3.4.1.42 */
static const unsigned char OID_DATA[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01
}; /* 1.2.840.113549.1.7.1 */

/* ---- rules ------------------------------------------------------------ */

const char *
pki_p12_password_problem(const char *password)
{
	size_t n;

	if (!password)
		return "a password is required";
	n = strlen(password);
	if (n < P12_PASSWORD_MIN)
		return "the password must have at least 8 characters";
	if (n > P12_PASSWORD_MAX)
		return "the password must have at most 64 characters";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)password[i];

		if (c < 0x20 || c > 0x7e)
			return "the password may only hold printable ASCII "
			       "characters (space to '~')";
	}
	return NULL;
}

const char *
pki_p12_iterations_problem(unsigned iterations)
{
	if (iterations < PKI_P12_ITER_MIN || iterations > PKI_P12_ITER_MAX)
		return "iterations must be 1000 to 1000000 (default 2048)";
	return NULL;
}

/*
 * true when s is a usable friendlyName: 1..P12_NAME_MAX printable ASCII
 * characters. The attribute is a BMPString, and readers disagree on what
 * to do with one beyond ASCII: GnuTLS 3.7.9 narrows (and, writing, widens)
 * it byte by byte, which garbles UTF-8 for every reader that decodes UCS-2
 * (seen with Python's cryptography). A DNS-name CN is ASCII anyway.
 */
static bool
friendly_name_is_ok(const char *s)
{
	size_t len;

	if (!s)
		return false;
	len = strlen(s);
	if (len == 0 || len > P12_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	}
	return true;
}

/*
 * The profile's encryption for OpenSSL: a PKCS#12 PBE NID (compat), or a
 * cipher NID, which OpenSSL wraps in PBES2 with PBKDF2 and its default PRF
 * hmacWithSHA256 (modern; the check proves the PRF); and its salt length.
 */
static bool
profile_pbe(enum pki_p12_profile profile, int *nid, int *saltlen)
{
	switch (profile) {
	case PKI_P12_COMPAT:
		*nid = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
		*saltlen = P12_SALT_PKCS12;
		return true;
	case PKI_P12_MODERN:
		*nid = NID_aes_256_cbc;
		*saltlen = P12_SALT_PBKDF2;
		return true;
	}
	return false;
}

/* certs[0..n) all present and importable by size. */
static bool
certs_are_ok(const struct pki_cert *const *certs, size_t n)
{
	if (!certs || n == 0 || n > PKI_P12_MAX_CERTS)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!certs[i] || !certs[i]->der || certs[i]->der_len == 0 ||
		    certs[i]->der_len > UINT_MAX)
			return false;
	}
	return true;
}

/* ---- export (OpenSSL) ------------------------------------------------- */

/*
 * Logs OpenSSL's reason for a failed step of the export, empties this
 * thread's error queue, and returns ERR_NOMEM or ERR_CRYPTO.
 */
static int
ossl_fail(const char *step)
{
	unsigned long e, first = 0;
	bool nomem = false;
	char text[256];

	while ((e = ERR_get_error()) != 0) {
		if (!first)
			first = e;
		if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
			nomem = true;
	}
	if (first)
		ERR_error_string_n(first, text, sizeof(text));
	log_error("pki: p12_export: %s: %s", step,
	          first ? text : "(OpenSSL gave no reason)");
	return nomem ? ERR_NOMEM : ERR_CRYPTO;
}

/*
 * A certBag holding c's DER exactly as given: the certificate travels as
 * an ASN.1 ANY, which OpenSSL keeps with its encoding and writes back
 * byte for byte, rather than as an X509 it would re-encode.
 */
static PKCS12_SAFEBAG *
cert_bag(const struct pki_cert *c)
{
	const unsigned char *p = c->der;
	ASN1_TYPE *any = d2i_ASN1_TYPE(NULL, &p, (long)c->der_len);
	PKCS12_SAFEBAG *bag = NULL;

	if (any && p == c->der + c->der_len &&
	    ASN1_TYPE_get(any) == V_ASN1_SEQUENCE)
		bag =
		    PKCS12_item_pack_safebag(any, ASN1_ITEM_rptr(ASN1_ANY),
		                             NID_x509Certificate, NID_certBag);
	ASN1_TYPE_free(any);
	return bag;
}

/* friendlyName and localKeyId on bag. */
static bool
bag_label(PKCS12_SAFEBAG *bag, const char *name, unsigned char *key_id)
{
	return PKCS12_add_friendlyname_asc(bag, name, -1) == 1 &&
	       PKCS12_add_localkeyid(bag, key_id, P12_KEY_ID_LEN) == 1;
}

/*
 * The encryptedData ContentInfo: a certBag for each of certs[0..ncerts)
 * in order, the leaf labelled, encrypted with the profile's PBE.
 */
static int
certs_safe(const struct pki_cert *const *certs, size_t ncerts, const char *name,
           unsigned char *key_id, const char *password, int nid, int saltlen,
           unsigned iter, PKCS7 **out)
{
	STACK_OF(PKCS12_SAFEBAG) *bags = sk_PKCS12_SAFEBAG_new_null();
	int ret = 0;

	if (!bags)
		return ossl_fail("certificates: new stack");
	for (size_t i = 0; i < ncerts; i++) {
		PKCS12_SAFEBAG *bag = cert_bag(certs[i]);

		if (!bag) {
			ret = ossl_fail("certificates: certBag");
			goto cleanup;
		}
		if (sk_PKCS12_SAFEBAG_push(bags, bag) <= 0) {
			PKCS12_SAFEBAG_free(bag);
			ret = ossl_fail("certificates: push");
			goto cleanup;
		}
		if (i == 0 && !bag_label(bag, name, key_id)) {
			ret = ossl_fail("certificates: leaf labels");
			goto cleanup;
		}
	}
	*out = PKCS12_pack_p7encdata_ex(nid, password, -1, NULL, saltlen,
	                                (int)iter, bags, NULL, NULL);
	if (!*out)
		ret = ossl_fail("certificates: encrypt");
cleanup:
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	return ret;
}

/*
 * The data ContentInfo: one pkcs8ShroudedKeyBag, key (plain PKCS#8 DER)
 * encrypted with the profile's PBE, labelled like the leaf. The plain key
 * lives only in p8, which PKCS8_PRIV_KEY_INFO_free() wipes (OpenSSL
 * cleanses the key octets on free, and the DER it encrypts from).
 */
static int
key_safe(const struct pki_secret *key, const char *name, unsigned char *key_id,
         const char *password, int nid, int saltlen, unsigned iter, PKCS7 **out)
{
	const unsigned char *p = key->data;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	PKCS12_SAFEBAG *bag = NULL;
	int ret = 0;

	if (key->len > LONG_MAX)
		return ERR_INVALID;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)key->len);
	if (!p8 || p != key->data + key->len) {
		/* pki_key_spki_sha256() read it: not a user error */
		ret = ossl_fail("key: not a PKCS#8 PrivateKeyInfo");
		goto cleanup;
	}
	bag = PKCS12_SAFEBAG_create_pkcs8_encrypt_ex(
	    nid, password, -1, NULL, saltlen, (int)iter, p8, NULL, NULL);
	if (!bag) {
		ret = ossl_fail("key: encrypt");
		goto cleanup;
	}
	if (!bag_label(bag, name, key_id)) {
		ret = ossl_fail("key: labels");
		goto cleanup;
	}
	bags = sk_PKCS12_SAFEBAG_new_null();
	if (!bags || sk_PKCS12_SAFEBAG_push(bags, bag) <= 0) {
		ret = ossl_fail("key: push");
		goto cleanup;
	}
	bag = NULL;
	*out = PKCS12_pack_p7data(bags);
	if (!*out)
		ret = ossl_fail("key: pack");
cleanup:
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	PKCS12_SAFEBAG_free(bag);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return ret;
}

/* Both ContentInfos in the PFX, its MAC, and its DER in a new secret. */
static int
pfx_finish(PKCS7 **certs, PKCS7 **keys, const char *password, unsigned iter,
           struct pki_secret **out)
{
	STACK_OF(PKCS7) *safes = sk_PKCS7_new_null();
	PKCS12 *p12 = NULL;
	unsigned char *q;
	int len, ret = 0;

	if (!safes || sk_PKCS7_push(safes, *certs) <= 0) {
		ret = ossl_fail("authenticated safe");
		goto cleanup;
	}
	*certs = NULL;
	if (sk_PKCS7_push(safes, *keys) <= 0) {
		ret = ossl_fail("authenticated safe");
		goto cleanup;
	}
	*keys = NULL;
	p12 = PKCS12_add_safes_ex(safes, NID_pkcs7_data, NULL, NULL);
	if (!p12) {
		ret = ossl_fail("authenticated safe");
		goto cleanup;
	}
	if (PKCS12_set_mac(p12, password, -1, NULL, P12_SALT_PKCS12, (int)iter,
	                   EVP_sha256()) != 1) {
		ret = ossl_fail("MAC");
		goto cleanup;
	}
	len = i2d_PKCS12(p12, NULL);
	if (len <= 0 || len > P12_MAX_DER) {
		ret = ossl_fail("DER length");
		goto cleanup;
	}
	*out = calloc(1, sizeof(**out));
	if (*out)
		(*out)->data = malloc((size_t)len);
	if (!*out || !(*out)->data) {
		free(*out);
		*out = NULL;
		ret = ERR_NOMEM;
		goto cleanup;
	}
	q = (*out)->data;
	if (i2d_PKCS12(p12, &q) != len) {
		pki_secret_free(*out); /* wipes what was written */
		*out = NULL;
		ret = ossl_fail("DER");
		goto cleanup;
	}
	(*out)->len = (size_t)len;
cleanup:
	PKCS12_free(p12);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	return ret;
}

int
pki_p12_export(const struct pki_secret *key,
               const struct pki_cert *const *certs, size_t ncerts,
               const char *friendly_name, const char *password,
               enum pki_p12_profile profile, unsigned iterations,
               struct pki_secret **out)
{
	PKCS7 *csafe = NULL, *ksafe = NULL;
	struct pki_secret *pfx = NULL;
	unsigned char key_id[P12_KEY_ID_LEN];
	char spki[PKI_SHA256_HEX_LEN + 1];
	int nid, saltlen, ret;

	if (!key || !key->data || !out || !certs_are_ok(certs, ncerts) ||
	    !profile_pbe(profile, &nid, &saltlen) ||
	    pki_p12_password_problem(password) ||
	    pki_p12_iterations_problem(iterations))
		return ERR_INVALID;
	if (!friendly_name)
		friendly_name = certs[0]->common_name;
	if (!friendly_name_is_ok(friendly_name))
		return ERR_INVALID;
	ret = pki_key_spki_sha256(key, spki);
	if (ret < 0)
		return ret;
	if (strcmp(spki, certs[0]->spki_sha256) != 0) {
		log_debug("pki: p12_export: the key does not match the leaf");
		return ERR_INVALID;
	}
	ret = gnutls_hash_fast(GNUTLS_DIG_SHA1, certs[0]->der,
	                       certs[0]->der_len, key_id);
	if (ret < 0) {
		log_error("pki: p12_export: hash_fast: %s",
		          gnutls_strerror(ret));
		return ERR_CRYPTO;
	}

	ret = certs_safe(certs, ncerts, friendly_name, key_id, password, nid,
	                 saltlen, iterations, &csafe);
	if (ret == 0)
		ret = key_safe(key, friendly_name, key_id, password, nid,
		               saltlen, iterations, &ksafe);
	if (ret == 0)
		ret = pfx_finish(&csafe, &ksafe, password, iterations, &pfx);
	if (ret == 0)
		*out = pfx;
	PKCS7_free(ksafe);
	PKCS7_free(csafe);
	/* nothing of this export stays in the thread's error queue */
	ERR_clear_error();
	return ret;
}

/* ---- algorithm identifiers (read with pki/der.c) ---------------------- */

/* A positive INTEGER (an iteration count), or 0 when it is not one. */
static unsigned
positive_uint(const struct der *v)
{
	unsigned x;

	return pki_der_uint(v, &x) < 0 ? 0 : x;
}

/*
 * Checks an AlgorithmIdentifier (contents of its SEQUENCE) against the
 * profile and the iteration count. compat: pbeWithSHAAnd3-KeyTripleDES-CBC
 * { salt, iterations }. modern: PBES2 { PBKDF2 { salt, iterations,
 * [keyLength], hmacWithSHA256 }, aes256-CBC { 16-byte IV } }; an absent
 * PRF means hmacWithSHA1 and is refused. Returns NULL or the difference.
 */
static const char *
alg_problem(struct der alg, enum pki_p12_profile profile, unsigned iterations)
{
	struct der oid, params, kdf, kdf_oid, kp, v, prf, enc, iv;

	if (pki_der_take(&alg, DER_OID, &oid) < 0 ||
	    pki_der_take(&alg, DER_SEQUENCE, &params) < 0 || alg.len != 0)
		return "an encryption algorithm identifier is malformed";
	if (profile == PKI_P12_COMPAT) {
		if (!pki_der_oid_is(&oid, OID_PBE_SHA1_3DES,
		                    sizeof(OID_PBE_SHA1_3DES)))
			return "a part is not encrypted with "
			       "pbeWithSHAAnd3-KeyTripleDES-CBC";
		if (pki_der_take(&params, DER_OCTETS, &v) < 0 ||
		    pki_der_take(&params, DER_INTEGER, &v) < 0 ||
		    positive_uint(&v) == 0 || params.len != 0)
			return "the pbeWithSHAAnd3-KeyTripleDES-CBC parameters "
			       "are malformed";
		if (positive_uint(&v) != iterations)
			return "an encryption's iteration count is not the one "
			       "asked for";
		return NULL;
	}
	if (!pki_der_oid_is(&oid, OID_PBES2, sizeof(OID_PBES2)))
		return "a part is not encrypted with PBES2";
	if (pki_der_take(&params, DER_SEQUENCE, &kdf) < 0 ||
	    pki_der_take(&params, DER_SEQUENCE, &enc) < 0 || params.len != 0 ||
	    pki_der_take(&kdf, DER_OID, &kdf_oid) < 0 ||
	    pki_der_take(&kdf, DER_SEQUENCE, &kp) < 0 || kdf.len != 0)
		return "the PBES2 parameters are malformed";
	if (!pki_der_oid_is(&kdf_oid, OID_PBKDF2, sizeof(OID_PBKDF2)))
		return "the PBES2 key derivation is not PBKDF2";
	if (pki_der_take(&kp, DER_OCTETS, &v) < 0 ||
	    pki_der_take(&kp, DER_INTEGER, &v) < 0 || positive_uint(&v) == 0)
		return "the PBKDF2 parameters are malformed";
	if (positive_uint(&v) != iterations)
		return "an encryption's iteration count is not the one asked "
		       "for";
	if (pki_der_peek(&kp, DER_INTEGER) &&
	    (pki_der_take(&kp, DER_INTEGER, &v) < 0 || positive_uint(&v) != 32))
		return "the PBKDF2 key length is not 32 bytes";
	if (pki_der_take(&kp, DER_SEQUENCE, &prf) < 0 || kp.len != 0 ||
	    pki_der_take(&prf, DER_OID, &oid) < 0 ||
	    !pki_der_oid_is(&oid, OID_HMAC_SHA256, sizeof(OID_HMAC_SHA256)))
		return "the PBKDF2 PRF is not hmacWithSHA256";
	if (prf.len != 0 && (pki_der_take(&prf, DER_NULL, &v) < 0 ||
	                     v.len != 0 || prf.len != 0))
		return "the PBKDF2 PRF parameters are malformed";
	if (pki_der_take(&enc, DER_OID, &oid) < 0 ||
	    !pki_der_oid_is(&oid, OID_AES256_CBC, sizeof(OID_AES256_CBC)))
		return "the PBES2 cipher is not AES-256-CBC";
	if (pki_der_take(&enc, DER_OCTETS, &iv) < 0 || iv.len != 16 ||
	    enc.len != 0)
		return "the AES-256-CBC parameters are malformed";
	return NULL;
}

/*
 * The algorithm of an EncryptedData (the content GnuTLS hands out for an
 * encrypted bag): SEQUENCE { version, EncryptedContentInfo { data,
 * AlgorithmIdentifier, [0] encryptedContent } }.
 */
static const char *
encrypted_data_problem(const gnutls_datum_t *d, enum pki_p12_profile profile,
                       unsigned iterations)
{
	struct der in = { d->data, d->size }, ed, v, eci, oid, alg;

	if (pki_der_take(&in, DER_SEQUENCE, &ed) < 0 || in.len != 0 ||
	    pki_der_take(&ed, DER_INTEGER, &v) < 0 ||
	    pki_der_take(&ed, DER_SEQUENCE, &eci) < 0 ||
	    pki_der_take(&eci, DER_OID, &oid) < 0 ||
	    !pki_der_oid_is(&oid, OID_DATA, sizeof(OID_DATA)) ||
	    pki_der_take(&eci, DER_SEQUENCE, &alg) < 0)
		return "the certificates' encrypted part is malformed";
	return alg_problem(alg, profile, iterations);
}

/* EncryptedPrivateKeyInfo: SEQUENCE { AlgorithmIdentifier, OCTETS }. */
static const char *
shrouded_key_problem(const gnutls_datum_t *d, enum pki_p12_profile profile,
                     unsigned iterations)
{
	struct der in = { d->data, d->size }, epki, alg, v;

	if (pki_der_take(&in, DER_SEQUENCE, &epki) < 0 || in.len != 0 ||
	    pki_der_take(&epki, DER_SEQUENCE, &alg) < 0 ||
	    pki_der_take(&epki, DER_OCTETS, &v) < 0 || epki.len != 0)
		return "the shrouded key is malformed";
	return alg_problem(alg, profile, iterations);
}

/* ---- check ------------------------------------------------------------ */

/* Imports a PFX that is exactly one DER SEQUENCE. */
static int
p12_import(const struct pki_secret *pfx, gnutls_pkcs12_t *out, const char **why)
{
	struct der in, v;
	gnutls_pkcs12_t p12 = NULL;
	gnutls_datum_t d;
	int ret;

	if (pfx->len > P12_MAX_DER) {
		*why = "the PFX is too large";
		return ERR_INVALID;
	}
	in.p = pfx->data;
	in.len = pfx->len;
	if (pki_der_take(&in, DER_SEQUENCE, &v) < 0) {
		*why = "the PFX is not a DER SEQUENCE";
		return ERR_INVALID;
	}
	if (in.len != 0) {
		*why = "the PFX has bytes after its DER";
		return ERR_INVALID;
	}
	ret = gnutls_pkcs12_init(&p12);
	if (ret < 0) {
		log_error("pki: p12: pkcs12_init: %s", gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	d.data = pfx->data;
	d.size = (unsigned)pfx->len;
	ret = gnutls_pkcs12_import(p12, &d, GNUTLS_X509_FMT_DER, 0);
	if (ret < 0) {
		gnutls_pkcs12_deinit(p12);
		if (ret == GNUTLS_E_MEMORY_ERROR)
			return ERR_NOMEM;
		log_debug("pki: p12: pkcs12_import: %s", gnutls_strerror(ret));
		*why = "the PFX is not a readable PKCS#12";
		return ERR_INVALID;
	}
	*out = p12;
	return 0;
}

/* The MAC algorithm and iteration count; ERR_INVALID when none. */
static int
p12_mac(gnutls_pkcs12_t p12, unsigned *mac, unsigned *iter, const char **why)
{
	char *oid = NULL;
	int ret;

	/* GnuTLS 3.7.9 leaks the OID of an unknown MAC unless asked for it:
	 * ask, and free it. */
	ret = gnutls_pkcs12_mac_info(p12, mac, NULL, NULL, iter, &oid);
	gnutls_free(oid);
	if (ret == GNUTLS_E_MEMORY_ERROR)
		return ERR_NOMEM;
	if (ret < 0) {
		log_debug("pki: p12: pkcs12_mac_info: %s",
		          gnutls_strerror(ret));
		*why = ret == GNUTLS_E_INVALID_REQUEST
		           ? "the PFX has no MAC"
		           : "the PFX's MAC algorithm is not supported";
		return ERR_INVALID;
	}
	return 0;
}

/* Bag idx of p12: 0, 1 when there is none, or a negative enum err. */
static int
p12_bag(gnutls_pkcs12_t p12, int idx, gnutls_pkcs12_bag_t *out,
        const char **why)
{
	gnutls_pkcs12_bag_t bag = NULL;
	int ret;

	ret = gnutls_pkcs12_bag_init(&bag);
	if (ret < 0) {
		log_error("pki: p12_check: bag_init: %s", gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	ret = gnutls_pkcs12_get_bag(p12, idx, bag);
	if (ret < 0) {
		gnutls_pkcs12_bag_deinit(bag);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return 1;
		if (ret == GNUTLS_E_MEMORY_ERROR)
			return ERR_NOMEM;
		log_debug("pki: p12_check: get_bag: %s", gnutls_strerror(ret));
		*why = "a ContentInfo of the PFX is unreadable";
		return ERR_INVALID;
	}
	*out = bag;
	return 0;
}

/* Element idx's friendlyName ("" when none) and localKeyId. */
static bool
bag_labels(gnutls_pkcs12_bag_t bag, unsigned idx, const char **name,
           gnutls_datum_t *key_id)
{
	char *n = NULL;

	if (gnutls_pkcs12_bag_get_friendly_name(bag, idx, &n) < 0)
		n = NULL;
	if (gnutls_pkcs12_bag_get_key_id(bag, idx, key_id) < 0) {
		key_id->data = NULL;
		key_id->size = 0;
	}
	*name = n ? n : "";
	return n && n[0] != '\0' && key_id->size > 0;
}

/*
 * The certificates' ContentInfo: encrypted with the profile's algorithm,
 * holding exactly certs[0..ncerts) in order, the leaf labelled. Leaves the
 * leaf's labels in *name and *key_id (pointers into *bagp, which the
 * caller frees).
 */
static int
check_cert_bag(gnutls_pkcs12_bag_t bag, const char *password,
               const struct pki_cert *const *certs, size_t ncerts,
               enum pki_p12_profile profile, unsigned iterations,
               const char **name, gnutls_datum_t *key_id, const char **why)
{
	gnutls_datum_t d;
	const char *problem;
	int n, ret;

	if (gnutls_pkcs12_bag_get_type(bag, 0) != GNUTLS_BAG_ENCRYPTED ||
	    gnutls_pkcs12_bag_get_count(bag) != 1 ||
	    gnutls_pkcs12_bag_get_data(bag, 0, &d) < 0) {
		*why = "the first ContentInfo is not encrypted";
		return ERR_INVALID;
	}
	problem = encrypted_data_problem(&d, profile, iterations);
	if (problem) {
		*why = problem;
		return ERR_INVALID;
	}
	ret = gnutls_pkcs12_bag_decrypt(bag, password);
	if (ret < 0) {
		if (ret == GNUTLS_E_MEMORY_ERROR)
			return ERR_NOMEM;
		log_debug("pki: p12_check: bag_decrypt: %s",
		          gnutls_strerror(ret));
		*why = "the certificates do not decrypt with the password";
		return ERR_INVALID;
	}
	n = gnutls_pkcs12_bag_get_count(bag);
	if (n < 0 || (size_t)n != ncerts) {
		*why = "the PFX does not hold the expected number of "
		       "certificates";
		return ERR_INVALID;
	}
	for (unsigned i = 0; i < (unsigned)n; i++) {
		if (gnutls_pkcs12_bag_get_type(bag, i) !=
		        GNUTLS_BAG_CERTIFICATE ||
		    gnutls_pkcs12_bag_get_data(bag, i, &d) < 0) {
			*why = "the certificates' part holds something that "
			       "is not a certificate";
			return ERR_INVALID;
		}
		if (d.size != certs[i]->der_len ||
		    memcmp(d.data, certs[i]->der, d.size) != 0) {
			*why = i == 0
			           ? "the first certificate is not the leaf"
			           : "the certificates differ from the chain "
			             "or are out of order";
			return ERR_INVALID;
		}
	}
	if (!bag_labels(bag, 0, name, key_id)) {
		*why = "the leaf has no friendlyName or no localKeyId";
		return ERR_INVALID;
	}
	return 0;
}

/* The key in element 0 of bag decrypts and matches the leaf. */
static int
check_key_matches(const gnutls_datum_t *enc, const char *password,
                  const struct pki_cert *leaf, const char **why)
{
	gnutls_x509_privkey_t xkey = NULL;
	struct pki_secret *plain = NULL;
	char spki[PKI_SHA256_HEX_LEN + 1];
	int ret;

	ret = gnutls_x509_privkey_init(&xkey);
	if (ret < 0) {
		log_error("pki: p12_check: privkey_init: %s",
		          gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	ret = gnutls_x509_privkey_import_pkcs8(xkey, enc, GNUTLS_X509_FMT_DER,
	                                       password, 0);
	if (ret < 0) {
		log_debug("pki: p12_check: privkey_import_pkcs8: %s",
		          gnutls_strerror(ret));
		*why = "the key does not decrypt with the password";
		ret = ret == GNUTLS_E_MEMORY_ERROR ? ERR_NOMEM : ERR_INVALID;
		goto cleanup;
	}
	ret = pki_xkey_export(xkey, &plain);
	if (ret == 0)
		ret = pki_key_spki_sha256(plain, spki);
	if (ret < 0)
		goto cleanup;
	if (strcmp(spki, leaf->spki_sha256) != 0) {
		*why = "the key does not match the leaf";
		ret = ERR_INVALID;
		goto cleanup;
	}
	ret = 0;
cleanup:
	pki_secret_free(plain);
	gnutls_x509_privkey_deinit(xkey);
	return ret;
}

/* The key's ContentInfo: data, one shrouded key, labelled like the leaf. */
static int
check_key_bag(gnutls_pkcs12_bag_t bag, const char *password,
              const struct pki_cert *leaf, enum pki_p12_profile profile,
              unsigned iterations, const char *leaf_name,
              const gnutls_datum_t *leaf_id, const char **why)
{
	gnutls_datum_t d, id;
	const char *name, *problem;
	int type = gnutls_pkcs12_bag_get_type(bag, 0);

	if (type == GNUTLS_BAG_ENCRYPTED) {
		*why = "the key's ContentInfo is encrypted data, not data "
		       "holding a shrouded key";
		return ERR_INVALID;
	}
	if (gnutls_pkcs12_bag_get_count(bag) != 1) {
		*why = "the key's ContentInfo holds more than the key";
		return ERR_INVALID;
	}
	if (type != GNUTLS_BAG_PKCS8_ENCRYPTED_KEY ||
	    gnutls_pkcs12_bag_get_data(bag, 0, &d) < 0) {
		*why = type == GNUTLS_BAG_PKCS8_KEY
		           ? "the key is in a plain keyBag, not a "
		             "pkcs8ShroudedKeyBag"
		           : "the second ContentInfo holds no shrouded key";
		return ERR_INVALID;
	}
	problem = shrouded_key_problem(&d, profile, iterations);
	if (problem) {
		*why = problem;
		return ERR_INVALID;
	}
	if (!bag_labels(bag, 0, &name, &id) || strcmp(name, leaf_name) != 0 ||
	    id.size != leaf_id->size ||
	    memcmp(id.data, leaf_id->data, id.size) != 0) {
		*why = "the key's friendlyName or localKeyId differs from the "
		       "leaf's";
		return ERR_INVALID;
	}
	return check_key_matches(&d, password, leaf, why);
}

int
pki_p12_check(const struct pki_secret *pfx, const char *password,
              const struct pki_cert *const *certs, size_t ncerts,
              enum pki_p12_profile profile, unsigned iterations,
              const char **why)
{
	gnutls_pkcs12_t p12 = NULL;
	gnutls_pkcs12_bag_t bags[3] = { NULL, NULL, NULL };
	gnutls_datum_t leaf_id;
	const char *leaf_name, *reason = NULL, *pw_problem;
	unsigned mac = 0, iter = 0;
	int count = 0, nid, saltlen, ret;

	if (!pfx || !pfx->data || !certs_are_ok(certs, ncerts) ||
	    !profile_pbe(profile, &nid, &saltlen) ||
	    pki_p12_iterations_problem(iterations)) {
		reason = "bad arguments";
		ret = ERR_INVALID;
		goto cleanup;
	}
	pw_problem = pki_p12_password_problem(password);
	if (pw_problem) {
		reason = pw_problem;
		ret = ERR_INVALID;
		goto cleanup;
	}
	ret = p12_import(pfx, &p12, &reason);
	if (ret < 0)
		goto cleanup;
	ret = p12_mac(p12, &mac, &iter, &reason);
	if (ret < 0)
		goto cleanup;
	if (mac != GNUTLS_MAC_SHA256) {
		reason = "the PFX's MAC is not HMAC-SHA256";
		ret = ERR_INVALID;
		goto cleanup;
	}
	if (iter != iterations) {
		reason = "the MAC's iteration count is not the one asked for";
		ret = ERR_INVALID;
		goto cleanup;
	}
	ret = gnutls_pkcs12_verify_mac(p12, password);
	if (ret < 0) {
		if (ret == GNUTLS_E_MEMORY_ERROR) {
			ret = ERR_NOMEM;
			goto cleanup;
		}
		log_debug("pki: p12_check: verify_mac: %s",
		          gnutls_strerror(ret));
		reason = "the MAC does not verify with the password";
		ret = ERR_INVALID;
		goto cleanup;
	}

	/* Reading a third ContentInfo is enough to know there are more than
	 * two. */
	for (count = 0; count < 3; count++) {
		ret = p12_bag(p12, count, &bags[count], &reason);
		if (ret < 0)
			goto cleanup;
		if (ret == 1)
			break;
	}
	if (count != 2) {
		reason = count < 2 ? "the PFX has fewer than 2 ContentInfos"
		                   : "the PFX has more than 2 ContentInfos "
		                     "(go-pkcs12 reads at most 2)";
		ret = ERR_INVALID;
		goto cleanup;
	}
	ret = check_cert_bag(bags[0], password, certs, ncerts, profile,
	                     iterations, &leaf_name, &leaf_id, &reason);
	if (ret < 0)
		goto cleanup;
	ret = check_key_bag(bags[1], password, certs[0], profile, iterations,
	                    leaf_name, &leaf_id, &reason);
	if (ret < 0)
		goto cleanup;
	ret = 0;
cleanup:
	for (size_t i = 0; i < 3; i++) {
		if (bags[i])
			gnutls_pkcs12_bag_deinit(bags[i]);
	}
	if (p12)
		gnutls_pkcs12_deinit(p12);
	if (ret == ERR_INVALID && why)
		*why = reason ? reason : "the PFX is not as expected";
	return ret;
}

int
pki_p12_mac_iterations(const struct pki_secret *pfx, unsigned *iterations)
{
	gnutls_pkcs12_t p12 = NULL;
	const char *why = NULL;
	unsigned mac = 0, iter = 0;
	int ret;

	if (!pfx || !pfx->data || !iterations)
		return ERR_INVALID;
	ret = p12_import(pfx, &p12, &why);
	if (ret < 0)
		return ret;
	ret = p12_mac(p12, &mac, &iter, &why);
	gnutls_pkcs12_deinit(p12);
	if (ret < 0)
		return ret;
	*iterations = iter;
	return 0;
}
