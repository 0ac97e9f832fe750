/*
 * seal.c: secrets at rest, AES-256-GCM under the master key.
 *
 * Blob layout: version (1) | nonce (12) | ciphertext | tag (16). The aad
 * (e.g. the order id) is authenticated, not stored, so a blob copied to
 * another row does not open there. Nonces are random: at 2^32 seals per key
 * the collision risk is still below 2^-32.
 */
#include "pki/pki.h"
#include "pki/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_VERSION   1
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN   16
#define SEAL_OVERHEAD  (1 + SEAL_NONCE_LEN + SEAL_TAG_LEN)

/* The key is copied so that GnuTLS never sees a const-cast pointer. */
static int
seal_cipher_open(const unsigned char key[PKI_MASTER_KEY_LEN],
                 gnutls_aead_cipher_hd_t *h)
{
	unsigned char k[PKI_MASTER_KEY_LEN];
	gnutls_datum_t kd = { k, sizeof(k) };
	int ret;

	memcpy(k, key, sizeof(k));
	ret = gnutls_aead_cipher_init(h, GNUTLS_CIPHER_AES_256_GCM, &kd);
	util_wipe(k, sizeof(k));
	if (ret < 0) {
		log_error("pki: aead_cipher_init: %s", gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	return 0;
}

/*
 * ERR_INVALID also when an argument is NULL (a programmer error), or
 * pt_len is too large to frame.
 */
int
pki_seal(const unsigned char key[PKI_MASTER_KEY_LEN], const char *aad,
         const unsigned char *pt, size_t pt_len, unsigned char **ct,
         size_t *ct_len)
{
	gnutls_aead_cipher_hd_t h = NULL;
	unsigned char *buf = NULL;
	size_t out_len, body_len;
	int ret;

	if (!key || !aad || (!pt && pt_len > 0) || !ct || !ct_len ||
	    pt_len > SIZE_MAX - SEAL_OVERHEAD)
		return ERR_INVALID;

	out_len = pt_len + SEAL_OVERHEAD;
	buf = malloc(out_len);
	if (!buf)
		return ERR_NOMEM;
	buf[0] = SEAL_VERSION;
	ret = gnutls_rnd(GNUTLS_RND_NONCE, buf + 1, SEAL_NONCE_LEN);
	if (ret < 0) {
		log_error("pki: rnd: %s", gnutls_strerror(ret));
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret = seal_cipher_open(key, &h);
	if (ret < 0) {
		h = NULL;
		goto cleanup;
	}
	body_len = pt_len + SEAL_TAG_LEN;
	ret = gnutls_aead_cipher_encrypt(h, buf + 1, SEAL_NONCE_LEN, aad,
	                                 strlen(aad), SEAL_TAG_LEN,
	                                 pt_len ? (const void *)pt : "", pt_len,
	                                 buf + 1 + SEAL_NONCE_LEN, &body_len);
	if (ret < 0) {
		log_error("pki: aead_cipher_encrypt: %s", gnutls_strerror(ret));
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	if (body_len != pt_len + SEAL_TAG_LEN) {
		log_error("pki: aead_cipher_encrypt: unexpected length %zu",
		          body_len);
		ret = ERR_CRYPTO;
		goto cleanup;
	}
	*ct = buf;
	*ct_len = out_len;
	buf = NULL;
	ret = 0;
cleanup:
	free(buf);
	if (h)
		gnutls_aead_cipher_deinit(h);
	return ret;
}

/*
 * Every malformed blob is ERR_CRYPTO, like a failed tag check: shorter than
 * the 29-byte framing, an unknown version byte, or any altered byte. Only
 * NULL arguments are ERR_INVALID.
 */
int
pki_unseal(const unsigned char key[PKI_MASTER_KEY_LEN], const char *aad,
           const unsigned char *ct, size_t ct_len, struct pki_secret **out)
{
	gnutls_aead_cipher_hd_t h = NULL;
	struct pki_secret *s = NULL;
	size_t pt_len;
	int ret;

	if (!key || !aad || !ct || !out)
		return ERR_INVALID;
	if (ct_len < SEAL_OVERHEAD) {
		log_error("pki: unseal: blob too short (%zu bytes)", ct_len);
		return ERR_CRYPTO;
	}
	if (ct[0] != SEAL_VERSION) {
		log_error("pki: unseal: unknown blob version %u",
		          (unsigned)ct[0]);
		return ERR_CRYPTO;
	}

	pt_len = ct_len - SEAL_OVERHEAD;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ERR_NOMEM;
	/* One spare byte so that an empty secret still has a buffer; it
	 * never holds plaintext. */
	s->data = malloc(pt_len + 1);
	if (!s->data) {
		ret = ERR_NOMEM;
		goto cleanup;
	}
	s->len = pt_len;
	ret = seal_cipher_open(key, &h);
	if (ret < 0) {
		h = NULL;
		goto cleanup;
	}
	ret = gnutls_aead_cipher_decrypt(
	    h, ct + 1, SEAL_NONCE_LEN, aad, strlen(aad), SEAL_TAG_LEN,
	    ct + 1 + SEAL_NONCE_LEN, ct_len - 1 - SEAL_NONCE_LEN, s->data,
	    &pt_len);
	if (ret < 0) {
		log_error("pki: aead_cipher_decrypt: %s", gnutls_strerror(ret));
		ret = ret == GNUTLS_E_MEMORY_ERROR ? ERR_NOMEM : ERR_CRYPTO;
		goto cleanup;
	}
	if (pt_len != s->len) {
		log_error("pki: aead_cipher_decrypt: unexpected length %zu",
		          pt_len);
		ret = ERR_CRYPTO;
		goto cleanup;
	}
	*out = s;
	s = NULL;
	ret = 0;
cleanup:
	pki_secret_free(s);
	if (h)
		gnutls_aead_cipher_deinit(h);
	return ret;
}
