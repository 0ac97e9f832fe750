/*
 * key.c: RSA key generation, returned as unencrypted PKCS#8 DER.
 */
#include "pki/pki.h"
#include "pki/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include <stdlib.h>
#include <string.h>

int
pki_xkey_import(const struct pki_secret *key, gnutls_x509_privkey_t *out)
{
	gnutls_x509_privkey_t xkey = NULL;
	gnutls_datum_t in;
	int ret;

	if (!key || !key->data || key->len > UINT_MAX)
		return ERR_INVALID;
	ret = gnutls_x509_privkey_init(&xkey);
	if (ret < 0) {
		log_error("pki: privkey_init: %s", gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	in.data = key->data;
	in.size = (unsigned)key->len;
	ret = gnutls_x509_privkey_import_pkcs8(xkey, &in, GNUTLS_X509_FMT_DER,
	                                       NULL, GNUTLS_PKCS_PLAIN);
	if (ret < 0) {
		log_debug("pki: privkey_import_pkcs8: %s",
		          gnutls_strerror(ret));
		gnutls_x509_privkey_deinit(xkey);
		return ret == GNUTLS_E_MEMORY_ERROR ? ERR_NOMEM : ERR_INVALID;
	}
	*out = xkey;
	return 0;
}

int
pki_xkey_export(gnutls_x509_privkey_t xkey, struct pki_secret **out)
{
	gnutls_datum_t der = { NULL, 0 };
	int ret = gnutls_x509_privkey_export2_pkcs8(
	    xkey, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &der);

	if (ret < 0) {
		log_error("pki: privkey_export2_pkcs8: %s",
		          gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	ret = pki_secret_copy(der.data, der.size, out);
	util_wipe(der.data, der.size);
	gnutls_free(der.data);
	return ret;
}

int
pki_key_generate_rsa(unsigned bits, struct pki_secret **out)
{
	gnutls_x509_privkey_t key = NULL;
	int ret;

	if (!out || (bits != 2048 && bits != 3072 && bits != 4096))
		return ERR_INVALID;

	ret = gnutls_x509_privkey_init(&key);
	if (ret < 0) {
		log_error("pki: privkey_init: %s", gnutls_strerror(ret));
		key = NULL;
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret =
	    gnutls_x509_privkey_generate2(key, GNUTLS_PK_RSA, bits, 0, NULL, 0);
	if (ret < 0) {
		log_error("pki: privkey_generate2: %s", gnutls_strerror(ret));
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret = pki_xkey_export(key, out);
cleanup:
	if (key)
		gnutls_x509_privkey_deinit(key);
	return ret;
}

int
pki_key_spki_sha256(const struct pki_secret *key, char *out)
{
	gnutls_x509_privkey_t xkey = NULL;
	gnutls_privkey_t pkey = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t spki = { NULL, 0 };
	int ret;

	if (!key || !key->data || !out)
		return ERR_INVALID;
	ret = pki_xkey_import(key, &xkey);
	if (ret < 0) {
		xkey = NULL;
		goto cleanup;
	}
	if (gnutls_privkey_init(&pkey) < 0 || gnutls_pubkey_init(&pub) < 0) {
		ret = ERR_NOMEM;
		goto cleanup;
	}
	ret = gnutls_privkey_import_x509(pkey, xkey, 0);
	if (ret >= 0)
		ret = gnutls_pubkey_import_privkey(pub, pkey, 0, 0);
	if (ret >= 0)
		ret = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki);
	if (ret < 0) {
		log_error("pki: key_spki: %s", gnutls_strerror(ret));
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret = pki_sha256_hex(spki.data, spki.size, out);
cleanup:
	gnutls_free(spki.data);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(pkey);
	gnutls_x509_privkey_deinit(xkey);
	return ret;
}

const char *
pki_pk_name(int pk)
{
	switch (pk) {
	case GNUTLS_PK_RSA:
		return "rsa";
	case GNUTLS_PK_RSA_PSS:
		return "rsa-pss";
	case GNUTLS_PK_DSA:
		return "dsa";
	case GNUTLS_PK_ECDSA:
		return "ecdsa";
	case GNUTLS_PK_EDDSA_ED25519:
		return "ed25519";
	case GNUTLS_PK_EDDSA_ED448:
		return "ed448";
	case GNUTLS_PK_GOST_01:
		return "gost01";
	case GNUTLS_PK_GOST_12_256:
		return "gost12-256";
	case GNUTLS_PK_GOST_12_512:
		return "gost12-512";
	default:
		return "unknown";
	}
}
