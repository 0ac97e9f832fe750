/*
 * internal.h: what the pki/ files share and nobody else may use.
 */
#ifndef AMTCERTD_PKI_INTERNAL_H
#define AMTCERTD_PKI_INTERNAL_H

/* Lowercase name of a gnutls_pk_algorithm_t ("rsa", "ecdsa", ...). */
const char *pki_pk_name(int pk);

#include <stddef.h>

struct pki_secret;

/* GNUTLS_E_MEMORY_ERROR -> ERR_NOMEM, any other GnuTLS error ->
 * ERR_CRYPTO (the caller logs the step first). */
int pki_err_from_gnutls(int ret);

/*
 * GnuTLS returns attribute values escaped as in RFC 4514 (a backslash
 * before , + " \ < > ; and a leading # or space or trailing space). Undoes
 * that in place: every backslash quotes the next byte.
 */
void pki_rfc4514_unescape(char *s);

/* Value of a base64 symbol (RFC 4648 alphabet), or -1. */
int pki_b64_value(int c);

/* A new pki_secret holding a copy of data[0..len). 0 or ERR_NOMEM. */
int pki_secret_copy(const void *data, size_t len, struct pki_secret **out);

#endif
