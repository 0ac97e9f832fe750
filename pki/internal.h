/*
 * internal.h: what the pki/ files share and nobody else may use.
 */
#ifndef AMTCERTD_PKI_INTERNAL_H
#define AMTCERTD_PKI_INTERNAL_H

/* Lowercase name of a gnutls_pk_algorithm_t ("rsa", "ecdsa", ...). */
const char *pki_pk_name(int pk);

#include "pki/pki.h"

#include <stddef.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

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

/*
 * s for a one-line message: control characters replaced, cut on a UTF-8
 * boundary to fit out[size] (size >= 4), with "..." when cut.
 */
void pki_text_label(const char *s, char *out, size_t size);

/* The same for a certificate: its CN, else its subject DN. */
void pki_cert_label(const struct pki_cert *c, char *out, size_t size);

/*
 * Imports a plain PKCS#8 DER key (a secret) into a GnuTLS key; the caller
 * deinits it. ERR_INVALID when it is unreadable, ERR_NOMEM.
 */
int pki_xkey_import(const struct pki_secret *key, gnutls_x509_privkey_t *out);

/* Exports a key as plain PKCS#8 DER into a secret; no clear copy stays. */
int pki_xkey_export(gnutls_x509_privkey_t xkey, struct pki_secret **out);

/* ---- reading certificates and CSRs (pki/cert.c) ----------------------- */

/* What the shared readers below call the object in their reasons. */
enum pki_obj {
	PKI_OBJ_CERT,
	PKI_OBJ_CSR,
};

/* A GnuTLS error on untrusted input: ERR_NOMEM, or ERR_INVALID logged at
 * debug level with step (the input's fault, not ours). */
int pki_err_from_input(int gnutls_ret, const char *step);

/* Copies data[0..len) into a C string; a NUL inside is ERR_INVALID, a
 * byte that is not well-formed UTF-8 becomes U+FFFD. */
int pki_dup_str(const void *data, size_t len, char **out);

/* der[0..len) armoured as PEM with label, as a malloc'd C string.
 * ERR_NOMEM, ERR_CRYPTO. */
int pki_pem_encode(const char *label, const unsigned char *der, size_t len,
                   char **out);

/* gnutls_x509_crt_get_dn_by_oid() or gnutls_x509_crq_get_dn_by_oid() on
 * obj, with raw = 0. */
typedef int (*pki_dn_getter)(void *obj, const char *oid, unsigned idx,
                             void *buf, size_t *size);

/*
 * Value idx of the subject attribute oid, RFC 4514 escapes undone: 1 and
 * *out (malloc'd) set, 0 when there is no such value, or a negative enum
 * err (ERR_INVALID with *why worded for kind).
 */
int pki_dn_value(pki_dn_getter get, void *obj, const char *oid, unsigned idx,
                 enum pki_obj kind, char **out, const char **why);

/*
 * The dNSNames, in order, of a subjectAltName extension that
 * gnutls_x509_{crt,crq}_get_extension_by_oid2() fetched into *ext, which
 * returned ext_ret (this frees *ext). No extension: *out NULL, *count 0.
 * ERR_INVALID with *why worded for kind, ERR_NOMEM.
 */
int pki_san_dns_names(int ext_ret, gnutls_datum_t *ext, enum pki_obj kind,
                      char ***out, size_t *count, const char **why);

/* pki_cert_parse() of der[0..len) whose SHA-256 the caller has already
 * computed (sha256: PKI_CERTCACHE_KEY_LEN bytes, or NULL to compute it):
 * intake hashes every certificate to find duplicates first. */
int pki_cert_parse_digest(const unsigned char *der, size_t len,
                          const unsigned char *sha256, struct pki_cert **out,
                          const char **why);

/* ---- the cache of parsed CA certificates (pki/certcache.c) ------------ */

/* SHA-256 of a certificate's DER, the cache's key. */
#define PKI_CERTCACHE_KEY_LEN 32

/*
 * The CA certificate parsed earlier from the DER whose SHA-256 is key,
 * with one more reference for the caller (pki_cert_free() drops it), or
 * NULL when the cache does not hold it.
 */
struct pki_cert *pki_certcache_find(const unsigned char *key);

/*
 * Offers c, which pki_cert_parse() has just made from the DER whose SHA-256
 * is key, to the cache. A CA certificate becomes shared (the caller's
 * reference is its first) and nobody writes to it again; a leaf is never
 * kept and stays its caller's alone.
 */
void pki_certcache_add(struct pki_cert *c, const unsigned char *key);

/*
 * The kept verdict of pki_cert_is_signed_by(child, parent) when both are
 * shared CA certificates the cache holds: 1 signed, 0 not, -1 unknown.
 */
int pki_certcache_verdict(const struct pki_cert *child,
                          const struct pki_cert *parent);

/* Keeps that verdict (a property of the two DERs alone) when both are
 * held; else does nothing. */
void pki_certcache_verdict_keep(const struct pki_cert *child,
                                const struct pki_cert *parent, bool signed_by);

#endif
