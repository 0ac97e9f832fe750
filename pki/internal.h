/*
 * internal.h: what the pki/ files share and nobody else may use.
 */
#ifndef AMTCERTD_PKI_INTERNAL_H
#define AMTCERTD_PKI_INTERNAL_H

/* Lowercase name of a gnutls_pk_algorithm_t ("rsa", "ecdsa", ...). */
const char *pki_pk_name(int pk);

#endif
