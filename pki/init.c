/*
 * init.c: GnuTLS start-up and shutdown, pki_secret and SHA-256 helpers.
 */
#include "pki/pki.h"
#include "pki/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t pki_init_lock = PTHREAD_MUTEX_INITIALIZER;
static bool pki_initialized;

/*
 * Idempotent: a second pki_init() before pki_deinit() is a no-op, so one
 * pki_deinit() always undoes it. ERR_CRYPTO when GnuTLS cannot start (e.g.
 * no entropy) or is older than 3.7.0.
 */
int
pki_init(void)
{
	int ret = 0;

	pthread_mutex_lock(&pki_init_lock);
	if (pki_initialized)
		goto cleanup;
	if (!gnutls_check_version("3.7.0")) {
		log_error("pki: gnutls %s is older than 3.7.0",
		          gnutls_check_version(NULL));
		ret = ERR_CRYPTO;
		goto cleanup;
	}
	ret = gnutls_global_init();
	if (ret < 0) {
		log_error("pki: global_init: %s", gnutls_strerror(ret));
		ret = ret == GNUTLS_E_MEMORY_ERROR ? ERR_NOMEM : ERR_CRYPTO;
		goto cleanup;
	}
	pki_initialized = true;
	ret = 0;
cleanup:
	pthread_mutex_unlock(&pki_init_lock);
	return ret;
}

/* Undoes pki_init(); a no-op when pki_init() did not succeed. */
void
pki_deinit(void)
{
	pthread_mutex_lock(&pki_init_lock);
	if (pki_initialized) {
		gnutls_global_deinit();
		pki_initialized = false;
	}
	pthread_mutex_unlock(&pki_init_lock);
}

void
pki_secret_free(struct pki_secret *s)
{
	if (!s)
		return;
	if (s->data) {
		util_wipe(s->data, s->len);
		free(s->data);
	}
	util_wipe(s, sizeof(*s));
	free(s);
}

int
pki_sha256_hex(const void *data, size_t len, char *out)
{
	unsigned char digest[32];
	int ret;

	if ((!data && len > 0) || !out)
		return ERR_INVALID;
	ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, len ? data : "", len, digest);
	if (ret < 0) {
		log_error("pki: hash_fast: %s", gnutls_strerror(ret));
		return ERR_CRYPTO;
	}
	util_hex(digest, sizeof(digest), out);
	return 0;
}

int
pki_err_from_gnutls(int ret)
{
	return ret == GNUTLS_E_MEMORY_ERROR ? ERR_NOMEM : ERR_CRYPTO;
}

void
pki_rfc4514_unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '\\' && s[1])
			s++;
		*w++ = *s;
	}
	*w = '\0';
}

int
pki_b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
pki_secret_copy(const void *data, size_t len, struct pki_secret **out)
{
	struct pki_secret *s = calloc(1, sizeof(*s));

	if (!s)
		return ERR_NOMEM;
	s->data = malloc(len ? len : 1);
	if (!s->data) {
		free(s);
		return ERR_NOMEM;
	}
	if (len)
		memcpy(s->data, data, len);
	s->len = len;
	*out = s;
	return 0;
}
