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

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/*
 * Hex SHA-256 of the SubjectPublicKeyInfo DER of a PKCS#8 private key
 * (out: 65 bytes): the fingerprint that matches a certificate's
 * spki_sha256. ERR_INVALID for an unreadable key.
 */
int pki_key_spki_sha256(const struct pki_secret *key, char *out);

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

/* ---- certificates (pki/cert.c) ---------------------------------------- */

#define PKI_SHA1_HEX_LEN   40
#define PKI_SHA384_HEX_LEN 96

/* The AMT provisioning EKU and the legacy OU alternative (amt-facts 1). */
#define PKI_OID_AMT        "2.16.840.1.113741.1.2.3"
#define PKI_OID_SERVERAUTH "1.3.6.1.5.5.7.3.1"
#define PKI_AMT_OU         "Intel(R) Client Setup Certificate"

/*
 * What a certificate says about itself, parsed once. Strings are
 * NUL-terminated UTF-8, malloc'd; hex is lowercase.
 */
struct pki_cert {
	unsigned char *der;
	size_t der_len;
	char sha1[PKI_SHA1_HEX_LEN + 1];
	char sha256[PKI_SHA256_HEX_LEN + 1];
	char sha384[PKI_SHA384_HEX_LEN + 1];
	char *subject;     /* RFC 4514, e.g. "CN=x,O=y,C=US" */
	char *issuer;      /* RFC 4514 */
	char *common_name; /* first CN or NULL */
	char *serial;      /* hex, no separators */
	int64_t not_before;
	int64_t not_after;
	char *key_algorithm; /* "rsa", "ecdsa", "ed25519", "dsa", ... */
	unsigned key_bits;
	char *sig_algorithm; /* e.g. "RSA-SHA256" */
	bool sig_sha1;       /* signed with SHA-1 (or MD5) */
	char spki_sha256[PKI_SHA256_HEX_LEN + 1];
	char *ski; /* subject key identifier, hex, or NULL */
	char *aki; /* authority key identifier, hex, or NULL */
	bool has_basic_constraints;
	bool is_ca;
	int path_len; /* -1: no limit */
	bool has_key_usage;
	bool ku_cert_sign;
	bool ku_digital_signature;
	bool ku_key_encipherment;
	bool has_eku;
	bool eku_server_auth;
	bool eku_amt;
	bool eku_any;
	bool has_amt_ou;  /* an OU exactly PKI_AMT_OU */
	char **dns_names; /* dNSName SANs */
	size_t dns_count;
	bool self_issued; /* subject DN == issuer DN (raw DER compare) */
	bool self_signed; /* self-issued and its signature verifies with its
	                     own key */
	/* raw DER of subject and issuer DNs, for exact name matching */
	unsigned char *subject_raw;
	size_t subject_raw_len;
	unsigned char *issuer_raw;
	size_t issuer_raw_len;
	/* private to pki/cert.c: what signature checks need, parsed once so
	 * that chain building does not import the DER again (read-only after
	 * pki_cert_parse, safe to share between threads) */
	int sig_algo;
	unsigned char *sig;
	size_t sig_len;
	void *pubkey; /* gnutls_pubkey_t, or NULL when not importable */
	/* private to pki/cert.c and pki/certcache.c: a CA certificate that
	 * the cache of parsed CA certificates shares is never changed again
	 * and counts its holders; pki_cert_free() drops one, the last one
	 * frees it. Such a certificate must not be written to. */
	bool shared;
	atomic_uint refs;
};

/*
 * Parses one DER certificate. ERR_INVALID (with *why, a static string,
 * when why is not NULL) for anything that is not a readable X.509
 * certificate; ERR_NOMEM. Caller frees with pki_cert_free().
 */
int pki_cert_parse(const unsigned char *der, size_t len, struct pki_cert **out,
                   const char **why);

void pki_cert_free(struct pki_cert *c);

/*
 * true when child's issuer DN equals parent's subject DN (and, when both
 * are present, child's AKI equals parent's SKI) and child's signature
 * verifies with parent's public key. Can't fail: any error is "false".
 */
bool pki_cert_is_signed_by(const struct pki_cert *child,
                           const struct pki_cert *parent);

/* Lowercase hex digests of arbitrary bytes (out: 41 / 97 bytes). */
int pki_sha1_hex(const void *data, size_t len, char *out);
int pki_sha384_hex(const void *data, size_t len, char *out);

/* PEM "CERTIFICATE" text of a DER certificate (malloc'd). */
int pki_cert_to_pem(const struct pki_cert *c, char **pem);

/* ---- intake: whatever the CA delivers (pki/intake.c) ------------------ */

struct pki_intake_limits {
	size_t max_input;   /* bytes of one input (e.g. 10 MiB) */
	size_t max_total;   /* bytes unpacked in all, zip entries
	                       included (e.g. 32 MiB) */
	size_t max_entries; /* zip entries (e.g. 256) */
	unsigned max_ratio; /* max uncompressed/compressed per zip
	                       entry (e.g. 100) */
	unsigned max_depth; /* zip in zip nesting (e.g. 2) */
	size_t max_certs;   /* certificates in all (e.g. 64) */
};

/* One certificate found, in the order found, duplicates dropped. */
struct pki_found_cert {
	unsigned char *der;
	size_t der_len;
	char sha256[PKI_SHA256_HEX_LEN + 1];
	char *source; /* "upload.zip!certs/leaf.cer", "bundle.p7b", ... */
	char *format; /* "pem", "der", "base64", "pkcs7", "pkcs12" */
	/* pki_cert_parse() of der, which the caller may take (set it NULL);
	 * NULL when only GnuTLS can read the certificate */
	struct pki_cert *cert;
};

/* A note about the input that is not a certificate (skipped files...). */
struct pki_intake_note {
	char *source;
	char *message;
};

struct pki_bundle {
	struct pki_found_cert *certs;
	size_t count;
	size_t duplicates; /* certificates seen again and dropped */
	struct pki_intake_note *notes;
	size_t note_count;
	struct pki_secret *key; /* PKCS#8 DER from a PKCS#12 or PEM, or NULL */
	char key_source[128];
	char key_format[16]; /* what carried the key: "pkcs12" or "pem" */
	size_t total;        /* bytes consumed towards max_total */
};

/* Zeroes a bundle before the first pki_intake_add(). */
void pki_bundle_init(struct pki_bundle *b);

/* Frees everything a bundle holds (not the struct). NULL is a no-op. */
void pki_bundle_clear(struct pki_bundle *b);

/*
 * Reads one input by its content (name only labels sources, it never
 * decides the format): PEM (any number of CERTIFICATE / PKCS7 blocks, CRLF,
 * text around them), DER certificate, bare base64 of a DER certificate or
 * PKCS#7, PKCS#7 SignedData (.p7b/.p7c, PEM or DER), PKCS#12 (with
 * password; NULL tries the empty password), and zip archives of any of
 * these (nested folders, zip in zip up to max_depth), via libarchive.
 * Appends what it finds to b. Files in a zip that hold nothing usable
 * become notes, not errors.
 * Errors: ERR_INVALID with *why when the input (not a zip member) is none
 * of these; ERR_PASSWORD when a PKCS#12 needs a (different) password;
 * ERR_TOO_LARGE when a limit is passed (zip bomb, too many entries or
 * certificates). On error b may hold what was added before; the caller
 * discards b.
 */
int pki_intake_add(struct pki_bundle *b, const unsigned char *data, size_t len,
                   const char *name, const char *password,
                   const struct pki_intake_limits *lim, const char **why);

/*
 * true when text[0..len) is PEM of one to max_certs CERTIFICATE blocks and
 * white space, nothing else, each certificate within the shape bounds of
 * pki/der.h and with a key whose signature checks cost at most an
 * RSA-4096 public operation (RSA up to 4,096 bits with an exponent of at
 * most 64 bits, a named EC curve, EdDSA): what pki_intake_add() and a chain
 * evaluation do with it is bounded by len and max_certs. Reads nothing
 * else (no zip, PKCS#7, PKCS#12, keys). For the server's choice of thread.
 */
bool pki_intake_is_cheap(const unsigned char *text, size_t len,
                         size_t max_certs);

/* ---- chain building and AMT checks (pki/chain.c, pki/verify.c) -------- */

/* Where a candidate certificate came from. */
enum pki_origin {
	PKI_ORIGIN_UPLOAD = 0, /* this upload / this order's certificates */
	PKI_ORIGIN_POOL = 1,   /* the global CA pool */
	PKI_ORIGIN_SYSTEM = 2, /* the system trust store */
	/* a built-in cross-certificate or its root (data/bridges/) */
	PKI_ORIGIN_BUILTIN = 3,
};

struct pki_candidate {
	const struct pki_cert *cert; /* borrowed */
	enum pki_origin origin;
};

/* One trusted AMT root hash entry (hex lowercase; any may be NULL). */
struct pki_amt_root {
	const char *name;
	const char *sha1;
	const char *sha256;
	const char *sha384;
	bool enabled; /* entries the user has not enabled are known only */
	const char *evidence; /* "legacy-default", "cited", ... or NULL */
};

/* A path from the leaf upwards, leaf first. */
struct pki_path {
	const struct pki_candidate **certs; /* leaf first; certs[0]->cert is
	                                       the leaf */
	size_t len;
	bool complete;    /* ends at a self-signed certificate */
	bool amt_trusted; /* ... whose hash is an enabled AMT entry */
	const struct pki_amt_root *amt_root; /* entry matched, or NULL */
	const char *amt_hash_alg;            /* "sha256", "sha1", "sha384" */
	bool known_not_enabled; /* matched an entry that is not enabled */
	bool root_sha1_signed;
	char *why_not_chosen; /* NULL for the chosen path */
};

/*
 * Builds every path from leaf through the candidates (depth at most 8,
 * no certificate twice in a path) and ranks them: ends at an enabled AMT
 * root (and, when prefer_sha2_root, a SHA-2-signed one first) > complete to
 * any self-signed root > fewer certificates > later notAfter of the root.
 * Writes the ranked array (best first) and sets why_not_chosen of every
 * path but the first, e.g. "ends at self-signed USERTrust RSA
 * Certification Authority, which is not in the AMT list; the path through
 * the cross-signed one under AAA Certificate Services is". A leaf with no
 * issuer in the candidates yields one incomplete path of length 1.
 * Caller frees with pki_paths_free(). ERR_NOMEM, ERR_TOO_LARGE (more than
 * 64 paths).
 */
int pki_chain_build(const struct pki_candidate *leaf,
                    const struct pki_candidate *cands, size_t ncands,
                    const struct pki_amt_root *roots, size_t nroots,
                    bool prefer_sha2_root, struct pki_path **paths,
                    size_t *npaths);

/*
 * Remembers the verdicts of pki_cert_is_signed_by() for the certificates
 * of one evaluation, so that building the chains, the signature check and
 * classifying (pki_chain_build_memo(), pki_verify_opts.memo,
 * pki_classify_memo()) verify each pair's signature once. Keyed by the
 * certificates' addresses: use it only while they live unchanged, from one
 * thread at a time. A memo answers exactly as pki_cert_is_signed_by().
 */
struct pki_sig_memo;

/* An empty memo. ERR_NOMEM. */
int pki_sig_memo_new(struct pki_sig_memo **out);
void pki_sig_memo_free(struct pki_sig_memo *m);

/* pki_cert_is_signed_by(), asked once per pair (m NULL: every time). */
bool pki_sig_memo_signed_by(struct pki_sig_memo *m,
                            const struct pki_cert *child,
                            const struct pki_cert *parent);

/* pki_chain_build() with a memo (may be NULL). */
int pki_chain_build_memo(const struct pki_candidate *leaf,
                         const struct pki_candidate *cands, size_t ncands,
                         const struct pki_amt_root *roots, size_t nroots,
                         bool prefer_sha2_root, struct pki_sig_memo *memo,
                         struct pki_path **paths, size_t *npaths);

void pki_paths_free(struct pki_path *paths, size_t n);

enum pki_status {
	PKI_PASS = 0,
	PKI_WARN = 1,
	PKI_FAIL = 2,
	PKI_SKIPPED = 3,
};

const char *pki_status_name(enum pki_status s); /* "pass", ... */

struct pki_check {
	const char *id; /* stable: "key_match", "signatures", ... */
	enum pki_status status;
	char *message; /* one line */
	char *fix;     /* what to do; NULL when status is pass/skipped */
};

struct pki_verify_opts {
	int64_t at;                /* evaluate validity at this time */
	const char *dns_suffix;    /* NULL: suffix checks skipped */
	const char *expected_spki; /* the order's key (hex SHA-256 of SPKI)
	                              or NULL: key_match skipped */
	unsigned amt_min, amt_max; /* AMT majors served; 0 = not said */
	struct pki_sig_memo *memo; /* NULL, or the evaluation's memo */
};

struct pki_report {
	struct pki_check *checks;
	size_t count;
	enum pki_status overall; /* worst of pass/warn/fail */
};

/*
 * Runs every AMT check on a chosen path (amt-facts.md sections 1, 2, 4):
 * key_match, chain_complete, signatures, validity, issuer_ca,
 * eku_server_auth, amt_oid, leaf_key_type, rsa_size, sha1, root_trusted,
 * suffix_intel, suffix_rps, chain_length. Checks that cannot be evaluated
 * are PKI_SKIPPED with a message saying why. Caller frees with
 * pki_report_free(). ERR_NOMEM.
 */
int pki_verify_path(const struct pki_path *path,
                    const struct pki_verify_opts *opts,
                    struct pki_report **out);

void pki_report_free(struct pki_report *r);

/* ---- roles of a delivery's certificates (pki/classify.c) -------------- */

enum pki_role {
	PKI_ROLE_LEAF = 0,
	PKI_ROLE_INTERMEDIATE = 1,
	PKI_ROLE_ROOT = 2,
	PKI_ROLE_CROSS_SIGNED = 3,
	PKI_ROLE_UNRELATED = 4,
};

const char *pki_role_name(enum pki_role r); /* "leaf", "cross-signed"... */

/*
 * Gives each of certs[0..n) a role and a one-line reason (malloc'd, in
 * reasons[i]): leaf (index leaf, or none when leaf is -1); root
 * (self-signed); cross-signed (a CA whose subject and key equal those of a
 * self-signed certificate among certs or context, issued by another CA);
 * intermediate (any other CA certificate that is an issuer on the way up
 * from the leaf, or any CA when there is no leaf); unrelated (end-entity
 * certificates other than the leaf, and CA certificates that issue nothing
 * on the leaf's way up). context holds other certificates that may sit
 * between (the order's earlier uploads, the CA pool). ERR_NOMEM.
 */
int pki_classify(const struct pki_cert *const *certs, size_t n, long leaf,
                 const struct pki_cert *const *context, size_t ncontext,
                 enum pki_role *roles, char **reasons);

/* pki_classify() with a memo (may be NULL). */
int pki_classify_memo(const struct pki_cert *const *certs, size_t n, long leaf,
                      const struct pki_cert *const *context, size_t ncontext,
                      struct pki_sig_memo *memo, enum pki_role *roles,
                      char **reasons);

/* ---- AMT root hash lists (pki/roots.c) --------------------------------- */

/* One root hash entry from the seed list or a device's report. */
struct pki_amt_hash_entry {
	char *name;
	char *sha1;   /* lowercase hex or NULL */
	char *sha256; /* lowercase hex or NULL */
	char *sha384; /* lowercase hex or NULL */
	char *evidence;
	bool active; /* false when a device listed it as not active */
};

void pki_amt_hash_entries_free(struct pki_amt_hash_entry *e, size_t n);

/*
 * Parses the seed list format (data/amt-roots.tsv: '#' comments, a header
 * line, then name, sha1, sha256, sha384, evidence, debian_ca_file separated
 * by tabs; empty cells are NULL). ERR_INVALID with *why on a malformed
 * line (bad hex length, missing columns, no hash at all).
 */
int pki_amt_list_parse_tsv(const char *text, size_t len,
                           struct pki_amt_hash_entry **out, size_t *n,
                           const char **why);

/*
 * Parses a hash list as a device reports it, pasted from `rpc amtinfo
 * -cert`, MeshCentral or MEBx notes: every hex string of 40, 64 or 96
 * digits (colons or spaces between byte pairs allowed) is a SHA-1, SHA-256
 * or SHA-384 hash; its name is the text before it on the same line (labels
 * such as "SHA256:" removed) or else the nearest line above that is not a
 * hash. "(Default, Active)"-style notes are removed from names, and
 * "Inactive"/"not active" marks the entry inactive. At most max entries.
 * ERR_INVALID with *why when no hash is found; ERR_TOO_LARGE past max.
 */
int pki_amt_list_parse_device(const char *text, size_t len, size_t max,
                              struct pki_amt_hash_entry **out, size_t *n,
                              const char **why);

/* true when s is lowercase-or-uppercase hex of exactly len digits. */
bool pki_hex_is(const char *s, size_t len);

/* ---- PKCS#12 export (pki/pkcs12.c) ---- */

/*
 * The PFX consoles read (amt-facts.md section 3). compat: PKCS#12 PBE
 * pbeWithSHAAnd3-KeyTripleDES-CBC, for Windows Server 2016 and older;
 * modern: PBES2 with PBKDF2 (hmacWithSHA256) and AES-256-CBC. Both carry
 * an HMAC-SHA256 MAC.
 */
enum pki_p12_profile {
	PKI_P12_COMPAT = 0,
	PKI_P12_MODERN = 1,
};

/* Certificates one PFX may carry (GnuTLS bags hold at most 31). */
#define PKI_P12_MAX_CERTS 16

/*
 * Iteration count of the MAC and of both encryptions. The default is
 * OpenSSL 3's PKCS12_DEFAULT_ITER; node-forge (RPS, MeshCentral) spends
 * time in proportion to it on every decode.
 */
#define PKI_P12_ITER_DEFAULT 2048u
#define PKI_P12_ITER_MIN     1000u
#define PKI_P12_ITER_MAX     1000000u

/*
 * Checks a PFX password: printable ASCII (0x20..0x7e), 8..64 characters
 * (RPS's limit). Returns NULL when fine, else a static reason fit for a
 * 4xx body. Can't fail.
 */
const char *pki_p12_password_problem(const char *password);

/*
 * Checks an iteration count: PKI_P12_ITER_MIN..PKI_P12_ITER_MAX. Returns
 * NULL when fine, else a static reason fit for a 4xx body. Can't fail.
 */
const char *pki_p12_iterations_problem(unsigned iterations);

/*
 * Builds the PFX: an AuthenticatedSafe of exactly two ContentInfos (the
 * most go-pkcs12 reads). The first is encryptedData: one SafeContents
 * with a certBag for each of certs[0..ncerts) in the given order (leaf
 * first, intermediates, root last; 1..PKI_P12_MAX_CERTS), the leaf with
 * friendlyName and localKeyId (SHA-1 of the leaf's DER). The second is
 * data holding exactly one pkcs8ShroudedKeyBag: key (unencrypted PKCS#8
 * DER) encrypted with the same password and profile, with the same
 * friendlyName and localKeyId. The MAC is HMAC-SHA256.
 * friendly_name: NULL means the leaf's CN; it must be 1..255 printable
 * ASCII characters (readers disagree on a BMPString beyond ASCII; GnuTLS
 * 3.7.9 narrows it byte by byte). password: see
 * pki_p12_password_problem(). iterations (see
 * pki_p12_iterations_problem()) for the MAC and both encryptions; random
 * salts. Written with OpenSSL's libcrypto (pki/pkcs12.c says why). A few
 * milliseconds of CPU at PKI_P12_ITER_DEFAULT, most of a second at
 * PKI_P12_ITER_MAX: call it off the request threads.
 * *out (DER, a secret: free with pki_secret_free()) is written only on
 * success. ERR_INVALID (bad password, bad name, bad iteration count, key
 * not matching certs[0]->spki_sha256, unreadable key, too many
 * certificates), ERR_CRYPTO, ERR_NOMEM.
 */
int pki_p12_export(const struct pki_secret *key,
                   const struct pki_cert *const *certs, size_t ncerts,
                   const char *friendly_name, const char *password,
                   enum pki_p12_profile profile, unsigned iterations,
                   struct pki_secret **out);

/*
 * Re-reads a PFX made by pki_p12_export() and checks it the way the
 * consoles will: one DER SEQUENCE with no trailing bytes; an HMAC-SHA256
 * MAC that verifies with password; exactly 2 ContentInfos, the first
 * encryptedData with certificates equal to certs[0..ncerts) by DER and in
 * that order (nothing else), the leaf with a friendlyName and a
 * localKeyId; the second data with exactly one pkcs8ShroudedKeyBag, with
 * the leaf's friendlyName and localKeyId, that decrypts with password and
 * matches certs[0]; both encryptions the profile's (for modern, the PBKDF2
 * PRF hmacWithSHA256 and AES-256-CBC, read from the DER); the MAC and both
 * encryptions with exactly iterations. Read with GnuTLS, not with the
 * library that wrote it. As slow as an export. ERR_INVALID with *why
 * (static, when why is not NULL) on any difference, including a wrong
 * password; ERR_CRYPTO, ERR_NOMEM.
 */
int pki_p12_check(const struct pki_secret *pfx, const char *password,
                  const struct pki_cert *const *certs, size_t ncerts,
                  enum pki_p12_profile profile, unsigned iterations,
                  const char **why);

/*
 * The iteration count of a PFX's MAC (PKCS#12 KDF), for the report and
 * the benchmark; our exports use the same count for both encryptions.
 * Needs no password. ERR_INVALID when pfx is not a DER PKCS#12 with a MAC
 * GnuTLS knows; ERR_NOMEM, ERR_CRYPTO.
 */
int pki_p12_mac_iterations(const struct pki_secret *pfx, unsigned *iterations);

#endif
