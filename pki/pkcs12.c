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
 * because node-forge (RPS, MeshCentral) reads no plain keyBag. GnuTLS
 * writes one ContentInfo per gnutls_pkcs12_set_bag(), encryptedData when
 * the bag was encrypted and data otherwise, so one bag holds every
 * certificate and a second one the (already encrypted) key.
 *
 * GnuTLS chooses salts and the iteration count (PKCS12_ITER_COUNT, fixed
 * when GnuTLS is built: 600000 on Debian 12) for the MAC, the certificate
 * bag and the key alike. Every export and check therefore spends 0.2-0.3 s
 * of CPU: call them off the request threads.
 *
 * The check reads the algorithm identifiers itself (with pki/der.c)
 * rather than trusting GnuTLS's schema numbers, so that the PBES2 PRF,
 * which no GnuTLS 3.7 API reports, is checked too. (GnuTLS writes
 * hmacWithSHA256 without the NULL parameters OpenSSL adds; both forms are
 * accepted.)
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

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define P12_PASSWORD_MIN 8
#define P12_PASSWORD_MAX 64
/* Characters of a friendlyName (a CN is at most 64). */
#define P12_NAME_MAX 255
/* A PFX of three certificates is ~4 KiB; refuse absurd inputs. */
#define P12_MAX_DER (1024 * 1024)

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

/*
 * true when s is a usable friendlyName: 1..P12_NAME_MAX printable ASCII
 * characters. The attribute is a BMPString, and GnuTLS 3.7.9 fills it by
 * widening each byte of the C string: UTF-8 "\xc3\xbc" (u-umlaut) becomes
 * U+00C3 U+00BC, mojibake for any reader that decodes the BMPString as
 * UCS-2 (seen with Python's cryptography; OpenSSL, which narrows it back
 * byte by byte, happens to look right). A DNS-name CN is ASCII anyway.
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

static bool
profile_flags(enum pki_p12_profile profile, unsigned *flags)
{
	switch (profile) {
	case PKI_P12_COMPAT:
		*flags = GNUTLS_PKCS_PKCS12_3DES;
		return true;
	case PKI_P12_MODERN:
		*flags = GNUTLS_PKCS_PBES2_AES_256;
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

/* ---- export ----------------------------------------------------------- */

/*
 * key (plain PKCS#8 DER) as an EncryptedPrivateKeyInfo under password
 * with the profile's flags. *enc is GnuTLS memory, set only on success.
 */
static int
key_encrypt(const struct pki_secret *key, const char *password, unsigned flags,
            gnutls_datum_t *enc)
{
	gnutls_x509_privkey_t xkey = NULL;
	int ret = pki_xkey_import(key, &xkey);

	if (ret < 0)
		return ret;
	ret = gnutls_x509_privkey_export2_pkcs8(xkey, GNUTLS_X509_FMT_DER,
	                                        password, flags, enc);
	if (ret < 0) {
		log_error("pki: p12_export: privkey_export2_pkcs8: %s",
		          gnutls_strerror(ret));
		enc->data = NULL;
		enc->size = 0;
		ret = pki_err_from_gnutls(ret);
	} else {
		ret = 0;
	}
	gnutls_x509_privkey_deinit(xkey);
	return ret;
}

/* Sets friendlyName and localKeyId on element idx of bag. */
static int
bag_label(gnutls_pkcs12_bag_t bag, unsigned idx, const char *name,
          const gnutls_datum_t *key_id, const char *what)
{
	int ret;

	ret = gnutls_pkcs12_bag_set_friendly_name(bag, idx, name);
	if (ret < 0) {
		log_error("pki: p12_export: %s: bag_set_friendly_name: %s",
		          what, gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	ret = gnutls_pkcs12_bag_set_key_id(bag, idx, key_id);
	if (ret < 0) {
		log_error("pki: p12_export: %s: bag_set_key_id: %s", what,
		          gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	return 0;
}

/* One bag with every certificate, leaf labelled, encrypted. */
static int
cert_bag_make(const struct pki_cert *const *certs, size_t ncerts,
              const char *name, const gnutls_datum_t *key_id,
              const char *password, unsigned flags, gnutls_pkcs12_bag_t *out)
{
	gnutls_pkcs12_bag_t bag = NULL;
	int ret;

	ret = gnutls_pkcs12_bag_init(&bag);
	if (ret < 0) {
		log_error("pki: p12_export: bag_init: %s",
		          gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	for (size_t i = 0; i < ncerts; i++) {
		gnutls_datum_t d;

		/* The exact DER we were given, not a re-encoding. */
		d.data = certs[i]->der;
		d.size = (unsigned)certs[i]->der_len;
		ret =
		    gnutls_pkcs12_bag_set_data(bag, GNUTLS_BAG_CERTIFICATE, &d);
		if (ret < 0) {
			log_error("pki: p12_export: bag_set_data: %s",
			          gnutls_strerror(ret));
			ret = pki_err_from_gnutls(ret);
			goto cleanup;
		}
		if ((size_t)ret != i) {
			log_error("pki: p12_export: certificate %zu landed at "
			          "index %d",
			          i, ret);
			ret = ERR_CRYPTO;
			goto cleanup;
		}
	}
	ret = bag_label(bag, 0, name, key_id, "leaf");
	if (ret < 0)
		goto cleanup;
	ret = gnutls_pkcs12_bag_encrypt(bag, password, flags);
	if (ret < 0) {
		log_error("pki: p12_export: bag_encrypt: %s",
		          gnutls_strerror(ret));
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	*out = bag;
	bag = NULL;
	ret = 0;
cleanup:
	if (bag)
		gnutls_pkcs12_bag_deinit(bag);
	return ret;
}

/* One unencrypted bag holding only the shrouded key, labelled. */
static int
key_bag_make(const struct pki_secret *key, const char *name,
             const gnutls_datum_t *key_id, const char *password, unsigned flags,
             gnutls_pkcs12_bag_t *out)
{
	gnutls_pkcs12_bag_t bag = NULL;
	gnutls_datum_t enc = { NULL, 0 };
	int ret;

	ret = key_encrypt(key, password, flags, &enc);
	if (ret < 0)
		return ret;
	ret = gnutls_pkcs12_bag_init(&bag);
	if (ret < 0) {
		log_error("pki: p12_export: bag_init: %s",
		          gnutls_strerror(ret));
		bag = NULL;
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret = gnutls_pkcs12_bag_set_data(bag, GNUTLS_BAG_PKCS8_ENCRYPTED_KEY,
	                                 &enc);
	if (ret < 0) {
		log_error("pki: p12_export: bag_set_data: %s",
		          gnutls_strerror(ret));
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret = bag_label(bag, (unsigned)ret, name, key_id, "key");
	if (ret < 0)
		goto cleanup;
	*out = bag;
	bag = NULL;
	ret = 0;
cleanup:
	if (bag)
		gnutls_pkcs12_bag_deinit(bag);
	if (enc.data) {
		util_wipe(enc.data, enc.size);
		gnutls_free(enc.data);
	}
	return ret;
}

int
pki_p12_export(const struct pki_secret *key,
               const struct pki_cert *const *certs, size_t ncerts,
               const char *friendly_name, const char *password,
               enum pki_p12_profile profile, struct pki_secret **out)
{
	gnutls_pkcs12_bag_t cbag = NULL, kbag = NULL;
	gnutls_pkcs12_t p12 = NULL;
	gnutls_datum_t der = { NULL, 0 }, key_id;
	unsigned char sha1[20];
	char spki[PKI_SHA256_HEX_LEN + 1];
	unsigned flags;
	int ret;

	if (!key || !key->data || !out || !certs_are_ok(certs, ncerts) ||
	    !profile_flags(profile, &flags) ||
	    pki_p12_password_problem(password))
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

	/* localKeyId: SHA-1 of the leaf's DER, as OpenSSL writes it. */
	ret = gnutls_hash_fast(GNUTLS_DIG_SHA1, certs[0]->der,
	                       certs[0]->der_len, sha1);
	if (ret < 0) {
		log_error("pki: p12_export: hash_fast: %s",
		          gnutls_strerror(ret));
		return ERR_CRYPTO;
	}
	key_id.data = sha1;
	key_id.size = sizeof(sha1);

	ret = cert_bag_make(certs, ncerts, friendly_name, &key_id, password,
	                    flags, &cbag);
	if (ret < 0)
		goto cleanup;
	ret = key_bag_make(key, friendly_name, &key_id, password, flags, &kbag);
	if (ret < 0)
		goto cleanup;

	ret = gnutls_pkcs12_init(&p12);
	if (ret < 0) {
		log_error("pki: p12_export: pkcs12_init: %s",
		          gnutls_strerror(ret));
		p12 = NULL;
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret = gnutls_pkcs12_set_bag(p12, cbag);
	if (ret >= 0)
		ret = gnutls_pkcs12_set_bag(p12, kbag);
	if (ret < 0) {
		log_error("pki: p12_export: pkcs12_set_bag: %s",
		          gnutls_strerror(ret));
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret = gnutls_pkcs12_generate_mac2(p12, GNUTLS_MAC_SHA256, password);
	if (ret < 0) {
		log_error("pki: p12_export: pkcs12_generate_mac2: %s",
		          gnutls_strerror(ret));
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret = gnutls_pkcs12_export2(p12, GNUTLS_X509_FMT_DER, &der);
	if (ret < 0) {
		log_error("pki: p12_export: pkcs12_export2: %s",
		          gnutls_strerror(ret));
		der.data = NULL;
		der.size = 0;
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}

	ret = pki_secret_copy(der.data, der.size, out);
cleanup:
	if (der.data) {
		util_wipe(der.data, der.size);
		gnutls_free(der.data);
	}
	if (p12)
		gnutls_pkcs12_deinit(p12);
	if (kbag)
		gnutls_pkcs12_bag_deinit(kbag);
	if (cbag)
		gnutls_pkcs12_bag_deinit(cbag);
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
 * profile. compat: pbeWithSHAAnd3-KeyTripleDES-CBC { salt, iterations }.
 * modern: PBES2 { PBKDF2 { salt, iterations, [keyLength],
 * hmacWithSHA256 }, aes256-CBC { 16-byte IV } }; an absent PRF means
 * hmacWithSHA1 and is refused. Returns NULL or the difference.
 */
static const char *
alg_problem(struct der alg, enum pki_p12_profile profile)
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
encrypted_data_problem(const gnutls_datum_t *d, enum pki_p12_profile profile)
{
	struct der in = { d->data, d->size }, ed, v, eci, oid, alg;

	if (pki_der_take(&in, DER_SEQUENCE, &ed) < 0 || in.len != 0 ||
	    pki_der_take(&ed, DER_INTEGER, &v) < 0 ||
	    pki_der_take(&ed, DER_SEQUENCE, &eci) < 0 ||
	    pki_der_take(&eci, DER_OID, &oid) < 0 ||
	    !pki_der_oid_is(&oid, OID_DATA, sizeof(OID_DATA)) ||
	    pki_der_take(&eci, DER_SEQUENCE, &alg) < 0)
		return "the certificates' encrypted part is malformed";
	return alg_problem(alg, profile);
}

/* EncryptedPrivateKeyInfo: SEQUENCE { AlgorithmIdentifier, OCTETS }. */
static const char *
shrouded_key_problem(const gnutls_datum_t *d, enum pki_p12_profile profile)
{
	struct der in = { d->data, d->size }, epki, alg, v;

	if (pki_der_take(&in, DER_SEQUENCE, &epki) < 0 || in.len != 0 ||
	    pki_der_take(&epki, DER_SEQUENCE, &alg) < 0 ||
	    pki_der_take(&epki, DER_OCTETS, &v) < 0 || epki.len != 0)
		return "the shrouded key is malformed";
	return alg_problem(alg, profile);
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
               enum pki_p12_profile profile, const char **name,
               gnutls_datum_t *key_id, const char **why)
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
	problem = encrypted_data_problem(&d, profile);
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
              const char *leaf_name, const gnutls_datum_t *leaf_id,
              const char **why)
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
	problem = shrouded_key_problem(&d, profile);
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
              enum pki_p12_profile profile, const char **why)
{
	gnutls_pkcs12_t p12 = NULL;
	gnutls_pkcs12_bag_t bags[3] = { NULL, NULL, NULL };
	gnutls_datum_t leaf_id;
	const char *leaf_name, *reason = NULL, *pw_problem;
	unsigned flags, mac = 0, iter = 0;
	int count = 0, ret;

	if (!pfx || !pfx->data || !certs_are_ok(certs, ncerts) ||
	    !profile_flags(profile, &flags)) {
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
	                     &leaf_name, &leaf_id, &reason);
	if (ret < 0)
		goto cleanup;
	ret = check_key_bag(bags[1], password, certs[0], profile, leaf_name,
	                    &leaf_id, &reason);
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
