/*
 * pki.h: keys, CSRs, secrets at rest and the AMT naming rules.
 *
 * pki/ is pure: bytes in, structs out. It knows no HTTP, no SQL, no JSON and
 * reads no clock. Every function returns 0 or a negative enum err
 * (common/err.h); out-params are written only on success. GnuTLS codes are
 * logged once with the step that failed and translated.
 *
 * Secrets (private keys) travel as PKCS#8 DER in struct pki_secret, which is
 * wiped before it is freed.
 */
#ifndef AMTCERTD_PKI_H
#define AMTCERTD_PKI_H

#include <stdbool.h>
#include <stddef.h>

/* Must be called once before any other pki_ function (gnutls_global_init). */
int pki_init(void);
void pki_deinit(void);

/* ---- secrets ---------------------------------------------------------- */

struct pki_secret {
	unsigned char *data;
	size_t len;
};

/* Wipes and frees the buffer and the struct. NULL is a no-op. */
void pki_secret_free(struct pki_secret *s);

/* ---- hashing ---------------------------------------------------------- */

#define PKI_SHA256_HEX_LEN 64 /* without the NUL */

/* Lowercase hex SHA-256 of data into out (size >= 65). 0 or ERR_CRYPTO. */
int pki_sha256_hex(const void *data, size_t len, char *out);

/* ---- keys ------------------------------------------------------------- */

/*
 * Generates an RSA key of bits (2048, 3072 or 4096; anything else is
 * ERR_INVALID) and returns it as unencrypted PKCS#8 DER. Slow (seconds for
 * 4096): call it off the request threads. ERR_CRYPTO, ERR_NOMEM.
 */
int pki_key_generate_rsa(unsigned bits, struct pki_secret **out);

/* ---- CSRs ------------------------------------------------------------- */

struct pki_subject {
	char *common_name;
	char *organization;
	char *organizational_unit;
	char *locality;
	char *state;
	char *country;
};

/* Frees the strings (not the struct). NULL is a no-op. */
void pki_subject_clear(struct pki_subject *s);

/*
 * Makes a PEM "CERTIFICATE REQUEST" signed with SHA-256 by key (PKCS#8 DER).
 * Subject: the non-empty fields of subj in the order C, ST, L, O, OU, CN.
 * SANs: dNSName for each of san[0..nsan) and for the CN when it is not among
 * them (CN first). *pem_out is malloc'd, caller frees. *spki_sha256 (65
 * bytes) receives the hex SHA-256 of the DER SubjectPublicKeyInfo: the
 * fingerprint later used to match the CA's leaf to this key.
 * ERR_INVALID (empty CN, bad key), ERR_CRYPTO, ERR_NOMEM.
 */
int pki_csr_create(const struct pki_secret *key, const struct pki_subject *subj,
                   const char *const *san, size_t nsan, char **pem_out,
                   char *spki_sha256);

struct pki_csr_info {
	struct pki_subject subject;
	char **san; /* dNSName SANs, in order */
	size_t san_count;
	char *key_algorithm; /* "rsa", "ecdsa", "ed25519", ... */
	unsigned key_bits;
	char *sig_algorithm; /* e.g. "RSA-SHA256" */
	char *pem;           /* normalized "BEGIN CERTIFICATE REQUEST" PEM */
	char spki_sha256[PKI_SHA256_HEX_LEN + 1];
};

/*
 * Parses a CSR in PEM ("CERTIFICATE REQUEST" or IIS's "NEW CERTIFICATE
 * REQUEST", CRLF or LF, text around the block allowed) and checks its
 * self-signature. ERR_INVALID with *why (static string) set on unreadable
 * input or a bad signature; ERR_NOMEM. Caller frees with
 * pki_csr_info_free().
 */
int pki_csr_parse(const char *pem, size_t len, struct pki_csr_info **out,
                  const char **why);

void pki_csr_info_free(struct pki_csr_info *info);

/* ---- secrets at rest (AES-256-GCM) ------------------------------------ */

#define PKI_MASTER_KEY_LEN 32

/*
 * Encrypts pt with AES-256-GCM under key, binding aad (e.g. the order id).
 * Output layout: 1 version byte (1) | 12-byte random nonce | ciphertext |
 * 16-byte tag. *ct is malloc'd, caller frees. ERR_CRYPTO, ERR_NOMEM.
 */
int pki_seal(const unsigned char key[PKI_MASTER_KEY_LEN], const char *aad,
             const unsigned char *pt, size_t pt_len, unsigned char **ct,
             size_t *ct_len);

/*
 * Reverses pki_seal. A wrong key, wrong aad or any tampering is
 * ERR_CRYPTO (and nothing is written). The plaintext is a pki_secret.
 */
int pki_unseal(const unsigned char key[PKI_MASTER_KEY_LEN], const char *aad,
               const unsigned char *ct, size_t ct_len, struct pki_secret **out);

/* ---- names and the AMT suffix rule (amt-facts.md section 4) ---------- */

/*
 * true when name is a syntactically valid DNS host name of at least two
 * labels (letters, digits, hyphens; labels 1..63, not starting or ending
 * with '-'; total <= 253; last label not all digits). With allow_wildcard,
 * a leftmost "*." label is accepted. Case-insensitive. A trailing dot is
 * refused.
 */
bool pki_name_is_fqdn(const char *name, bool allow_wildcard);

/* true when cc is an assigned ISO 3166-1 alpha-2 code (upper case only). */
bool pki_country_is_valid(const char *cc);

/*
 * true when a state/province value looks like an abbreviation (e.g. "CA",
 * "NSW", "Calif."): CAs want it spelled out.
 */
bool pki_state_looks_abbreviated(const char *state);

/*
 * Intel's rule (SDK "PKI Certificate Verification Methods"): the suffix
 * matches when it is a suffix of name on a label boundary (a leading "*."
 * of name is removed first), or when name and suffix share the last N
 * labels, N being the per-TLD depth of MeshCentral's
 * TopLevelDomainExtendedSupport table (com, net, ... 2; co.uk-style TLDs
 * 3; other TLDs: no shortening). Case-insensitive.
 */
bool pki_suffix_matches_intel(const char *name, const char *suffix);

/* Open AMT RPS's rule: the last two labels of name and suffix are equal. */
bool pki_suffix_matches_rps(const char *name, const char *suffix);

#endif
