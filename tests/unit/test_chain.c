/*
 * test_chain.c: unit tests of pki/cert.c, pki/chain.c and pki/verify.c.
 *
 * Test PKIs are made here with GnuTLS: a handful of keys is generated once
 * for the whole group and reused by every certificate (RSA generation is
 * the slow part). Every AMT check is run on chains that pass it and on
 * chains that break it in one way, and path choice is tested on the
 * situations that matter for AMT (cross-signed twins, SHA-1 roots). The
 * real Sectigo/USERTrust/AAA certificates are read from
 * $AMTCERTD_SRC/tests/fixtures/public-ca (AMTCERTD_SRC defaults to ".").
 *
 * Parsers are always fed exact-size heap copies, so ASan catches any read
 * past the length they were given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/embedded.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "pki/pki.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define NOW ((int64_t)1767225600) /* 2026-01-01T00:00:00Z */
#define DAY ((int64_t)86400)

/* ---- keys, made once per group ---------------------------------------- */

enum test_key {
	K_NONE = 0, /* "the default for this position" */
	K_ROOT,
	K_ROOT2,
	K_INT,
	K_INT2,
	K_LEAF,
	K_OTHER,
	K_RSA1024,
	K_EC,
	NKEYS,
};

static gnutls_x509_privkey_t g_xkeys[NKEYS];
static gnutls_privkey_t g_keys[NKEYS];
static unsigned g_serial = 1;

static int
key_make(enum test_key k, gnutls_pk_algorithm_t pk, unsigned bits)
{
	if (gnutls_x509_privkey_init(&g_xkeys[k]) < 0 ||
	    gnutls_x509_privkey_generate2(g_xkeys[k], pk, bits, 0, NULL, 0) <
	        0 ||
	    gnutls_privkey_init(&g_keys[k]) < 0 ||
	    gnutls_privkey_import_x509(g_keys[k], g_xkeys[k], 0) < 0)
		return -1;
	return 0;
}

static int
group_setup(void **state)
{
	(void)state;
	log_set_level(LOG_LEVEL_WARN);
	if (pki_init() != 0)
		return -1;
	for (int k = K_ROOT; k <= K_OTHER; k++) {
		if (key_make((enum test_key)k, GNUTLS_PK_RSA, 2048) < 0)
			return -1;
	}
	if (key_make(K_RSA1024, GNUTLS_PK_RSA, 1024) < 0)
		return -1;
	return key_make(K_EC, GNUTLS_PK_ECDSA,
	                GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
}

static int
group_teardown(void **state)
{
	(void)state;
	for (int k = K_ROOT; k < NKEYS; k++) {
		if (g_keys[k])
			gnutls_privkey_deinit(g_keys[k]);
		if (g_xkeys[k])
			gnutls_x509_privkey_deinit(g_xkeys[k]);
		g_keys[k] = NULL;
		g_xkeys[k] = NULL;
	}
	pki_deinit();
	return 0;
}

/* ---- test certificates ------------------------------------------------ */

/* What to put in a test certificate. Zero fields mean the defaults. */
struct spec {
	const char *cn;
	enum test_key key;
	const char *ou;
	const char *san[3]; /* leaf default: { cn } */
	bool ca_false;      /* a CA position with basicConstraints CA:FALSE */
	bool no_bc;
	bool no_ku;
	bool ku_no_certsign;
	bool pathlen_set;
	int pathlen;
	bool no_server_auth;
	bool no_amt_oid;
	bool sha1;
	int nb_days; /* notBefore = NOW + days; 0: -30 */
	int na_days; /* notAfter = NOW + days; 0: +365 */
};

struct tcert {
	gnutls_x509_crt_t crt;
	enum test_key key;
	struct pki_cert *pc;
	unsigned char *der;
	size_t der_len;
};

/* pki_cert_parse() on an exact-size heap copy; fails the test on error. */
static struct pki_cert *
parse_der(const unsigned char *der, size_t len)
{
	unsigned char *copy = malloc(len);
	struct pki_cert *c = NULL;
	const char *why = NULL;
	int ret;

	assert_non_null(copy);
	memcpy(copy, der, len);
	ret = pki_cert_parse(copy, len, &c, &why);
	free(copy);
	if (ret != 0)
		fail_msg("pki_cert_parse: %s (%s)", err_str(ret),
		         why ? why : "-");
	return c;
}

/*
 * Makes a certificate: a CA when ca, else a leaf (serverAuth, the AMT OID
 * and dNSNames by default). issuer NULL: self-signed.
 */
static struct tcert *
mk(const struct spec *s, bool ca, const struct tcert *issuer)
{
	struct tcert *t = calloc(1, sizeof(*t));
	unsigned char serial[3], id[64];
	size_t id_size = sizeof(id);
	gnutls_datum_t der = { NULL, 0 };
	unsigned ku;

	assert_non_null(t);
	assert_true(s->key != K_NONE);
	t->key = s->key;
	assert_int_equal(gnutls_x509_crt_init(&t->crt), 0);
	assert_int_equal(gnutls_x509_crt_set_version(t->crt, 3), 0);
	serial[0] = 0x01;
	serial[1] = (unsigned char)(g_serial >> 8);
	serial[2] = (unsigned char)g_serial;
	g_serial++;
	assert_int_equal(gnutls_x509_crt_set_serial(t->crt, serial, 3), 0);
	if (s->ou)
		assert_int_equal(gnutls_x509_crt_set_dn_by_oid(
		                     t->crt,
		                     GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME,
		                     0, s->ou, (unsigned)strlen(s->ou)),
		                 0);
	assert_int_equal(
	    gnutls_x509_crt_set_dn_by_oid(t->crt, GNUTLS_OID_X520_COMMON_NAME,
	                                  0, s->cn, (unsigned)strlen(s->cn)),
	    0);
	assert_int_equal(gnutls_x509_crt_set_key(t->crt, g_xkeys[s->key]), 0);
	assert_int_equal(
	    gnutls_x509_crt_set_activation_time(
	        t->crt, (time_t)(NOW + (s->nb_days ? s->nb_days : -30) * DAY)),
	    0);
	assert_int_equal(
	    gnutls_x509_crt_set_expiration_time(
	        t->crt, (time_t)(NOW + (s->na_days ? s->na_days : 365) * DAY)),
	    0);
	if (!s->no_bc)
		assert_int_equal(gnutls_x509_crt_set_basic_constraints(
		                     t->crt, ca && !s->ca_false,
		                     s->pathlen_set ? s->pathlen : -1),
		                 0);
	if (!s->no_ku) {
		if (!ca)
			ku = GNUTLS_KEY_DIGITAL_SIGNATURE |
			     GNUTLS_KEY_KEY_ENCIPHERMENT;
		else if (s->ku_no_certsign)
			ku = GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_CRL_SIGN;
		else
			ku = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN;
		assert_int_equal(gnutls_x509_crt_set_key_usage(t->crt, ku), 0);
	}
	if (!ca) {
		const char *san0 = s->san[0] ? s->san[0] : s->cn;

		if (!s->no_server_auth)
			assert_int_equal(gnutls_x509_crt_set_key_purpose_oid(
			                     t->crt, PKI_OID_SERVERAUTH, 0),
			                 0);
		if (!s->no_amt_oid)
			assert_int_equal(gnutls_x509_crt_set_key_purpose_oid(
			                     t->crt, PKI_OID_AMT, 0),
			                 0);
		assert_int_equal(gnutls_x509_crt_set_subject_alt_name(
		                     t->crt, GNUTLS_SAN_DNSNAME, san0,
		                     (unsigned)strlen(san0),
		                     GNUTLS_FSAN_APPEND),
		                 0);
		for (size_t i = 1; i < ARRAY_LEN(s->san) && s->san[i]; i++)
			assert_int_equal(gnutls_x509_crt_set_subject_alt_name(
			                     t->crt, GNUTLS_SAN_DNSNAME,
			                     s->san[i],
			                     (unsigned)strlen(s->san[i]),
			                     GNUTLS_FSAN_APPEND),
			                 0);
	}
	assert_int_equal(gnutls_x509_crt_get_key_id(
	                     t->crt, GNUTLS_KEYID_USE_SHA1, id, &id_size),
	                 0);
	assert_int_equal(
	    gnutls_x509_crt_set_subject_key_id(t->crt, id, id_size), 0);
	if (issuer) {
		unsigned crit = 0;

		id_size = sizeof(id);
		assert_int_equal(gnutls_x509_crt_get_subject_key_id(
		                     issuer->crt, id, &id_size, &crit),
		                 0);
	}
	assert_int_equal(
	    gnutls_x509_crt_set_authority_key_id(t->crt, id, id_size), 0);
	assert_int_equal(gnutls_x509_crt_privkey_sign(
	                     t->crt, issuer ? issuer->crt : t->crt,
	                     g_keys[issuer ? issuer->key : s->key],
	                     s->sha1 ? GNUTLS_DIG_SHA1 : GNUTLS_DIG_SHA256, 0),
	                 0);
	assert_int_equal(
	    gnutls_x509_crt_export2(t->crt, GNUTLS_X509_FMT_DER, &der), 0);
	t->der = malloc(der.size);
	assert_non_null(t->der);
	memcpy(t->der, der.data, der.size);
	t->der_len = der.size;
	gnutls_free(der.data);
	t->pc = parse_der(t->der, t->der_len);
	return t;
}

static void
tcert_free(struct tcert *t)
{
	if (!t)
		return;
	gnutls_x509_crt_deinit(t->crt);
	pki_cert_free(t->pc);
	free(t->der);
	free(t);
}

/* ---- building and checking -------------------------------------------- */

struct built {
	struct pki_candidate leaf;
	struct pki_candidate cands[32];
	struct pki_path *paths;
	size_t npaths;
};

static int
build(struct built *b, const struct tcert *leaf, struct tcert *const *others,
      size_t n, const struct pki_amt_root *roots, size_t nroots,
      bool prefer_sha2_root)
{
	assert_true(n <= ARRAY_LEN(b->cands));
	memset(b, 0, sizeof(*b));
	b->leaf.cert = leaf->pc;
	b->leaf.origin = PKI_ORIGIN_UPLOAD;
	for (size_t i = 0; i < n; i++) {
		b->cands[i].cert = others[i]->pc;
		b->cands[i].origin = PKI_ORIGIN_UPLOAD;
	}
	return pki_chain_build(&b->leaf, b->cands, n, roots, nroots,
	                       prefer_sha2_root, &b->paths, &b->npaths);
}

static void
built_clear(struct built *b)
{
	pki_paths_free(b->paths, b->npaths);
	b->paths = NULL;
	b->npaths = 0;
}

/* true when p is exactly the certificates want[0..n). */
static bool
path_is(const struct pki_path *p, struct tcert *const *want, size_t n)
{
	if (p->len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p->certs[i]->cert != want[i]->pc)
			return false;
	}
	return true;
}

static const struct pki_check *
find_check(const struct pki_report *r, const char *id)
{
	for (size_t i = 0; i < r->count; i++) {
		if (strcmp(r->checks[i].id, id) == 0)
			return &r->checks[i];
	}
	fail_msg("no check %s in the report", id);
	return NULL;
}

static struct pki_verify_opts
default_opts(const struct tcert *leaf)
{
	struct pki_verify_opts o;

	memset(&o, 0, sizeof(o));
	o.at = NOW;
	o.dns_suffix = "example.com";
	o.expected_spki = leaf->pc->spki_sha256;
	return o;
}

/* An AMT list entry for root t, matched by alg ("sha256", ...). */
static struct pki_amt_root
entry_for(const struct tcert *t, const char *name, const char *alg,
          bool enabled)
{
	struct pki_amt_root e;

	memset(&e, 0, sizeof(e));
	e.name = name;
	e.enabled = enabled;
	if (strcmp(alg, "sha1") == 0)
		e.sha1 = t->pc->sha1;
	else if (strcmp(alg, "sha384") == 0)
		e.sha384 = t->pc->sha384;
	else
		e.sha256 = t->pc->sha256;
	return e;
}

/* ---- hashes, parse, PEM ----------------------------------------------- */

static void
test_sha_hex(void **state)
{
	char s1[PKI_SHA1_HEX_LEN + 1], s384[PKI_SHA384_HEX_LEN + 1];

	(void)state;
	assert_int_equal(pki_sha1_hex("abc", 3, s1), 0);
	assert_string_equal(s1, "a9993e364706816aba3e25717850c26c9cd0d89d");
	assert_int_equal(pki_sha384_hex("abc", 3, s384), 0);
	assert_string_equal(s384,
	                    "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
	                    "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
	assert_int_equal(pki_sha1_hex("", 0, s1), 0);
	assert_string_equal(s1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	assert_int_equal(pki_sha1_hex(NULL, 1, s1), ERR_INVALID);
}

static void
test_parse_fields(void **state)
{
	struct tcert *root, *inter, *leaf;
	const struct pki_cert *c;
	char hex[PKI_SHA256_HEX_LEN + 1];

	(void)state;
	root =
	    mk(&(struct spec){ .cn = "Field Root", .key = K_ROOT }, true, NULL);
	inter = mk(&(struct spec){ .cn = "Field CA",
	                           .key = K_INT,
	                           .pathlen_set = true,
	                           .pathlen = 0 },
	           true, root);
	leaf = mk(
	    &(struct spec){ .cn = "amt.example.com",
	                    .key = K_LEAF,
	                    .ou = PKI_AMT_OU,
	                    .san = { "amt.example.com", "other.example.net" } },
	    false, inter);

	c = leaf->pc;
	assert_string_equal(c->common_name, "amt.example.com");
	assert_non_null(strstr(c->subject, "CN=amt.example.com"));
	assert_non_null(strstr(c->subject, "OU=Intel(R) Client Setup"));
	assert_string_equal(c->issuer, "CN=Field CA");
	assert_int_equal(strlen(c->serial), 6);
	assert_int_equal(c->not_before, NOW - 30 * DAY);
	assert_int_equal(c->not_after, NOW + 365 * DAY);
	assert_string_equal(c->key_algorithm, "rsa");
	assert_int_equal(c->key_bits, 2048);
	assert_string_equal(c->sig_algorithm, "RSA-SHA256");
	assert_false(c->sig_sha1);
	assert_int_equal(pki_sha256_hex(leaf->der, leaf->der_len, hex), 0);
	assert_string_equal(c->sha256, hex);
	assert_int_equal(strlen(c->sha1), PKI_SHA1_HEX_LEN);
	assert_int_equal(strlen(c->sha384), PKI_SHA384_HEX_LEN);
	assert_int_equal(c->der_len, leaf->der_len);
	assert_memory_equal(c->der, leaf->der, leaf->der_len);
	assert_non_null(c->ski);
	assert_non_null(c->aki);
	assert_string_equal(c->aki, inter->pc->ski);
	assert_true(c->has_basic_constraints);
	assert_false(c->is_ca);
	assert_true(c->has_key_usage);
	assert_true(c->ku_digital_signature);
	assert_true(c->ku_key_encipherment);
	assert_false(c->ku_cert_sign);
	assert_true(c->has_eku);
	assert_true(c->eku_server_auth);
	assert_true(c->eku_amt);
	assert_false(c->eku_any);
	assert_true(c->has_amt_ou);
	assert_int_equal(c->dns_count, 2);
	assert_string_equal(c->dns_names[0], "amt.example.com");
	assert_string_equal(c->dns_names[1], "other.example.net");
	assert_false(c->self_issued);
	assert_false(c->self_signed);
	assert_true(c->subject_raw_len > 0);
	assert_int_equal(c->issuer_raw_len, inter->pc->subject_raw_len);
	assert_memory_equal(c->issuer_raw, inter->pc->subject_raw,
	                    c->issuer_raw_len);

	c = inter->pc;
	assert_true(c->is_ca);
	assert_int_equal(c->path_len, 0);
	assert_true(c->ku_cert_sign);
	assert_false(c->has_eku);
	assert_int_equal(c->dns_count, 0);
	assert_null(c->dns_names);

	c = root->pc;
	assert_true(c->self_issued);
	assert_true(c->self_signed);
	assert_int_equal(c->path_len, -1);
	assert_string_equal(c->subject, c->issuer);

	tcert_free(leaf);
	tcert_free(inter);
	tcert_free(root);
}

/* RFC 4514 escaping in the DN text, none in the CN; an OU that is not
 * exactly the AMT one does not count. */
static void
test_parse_names_escaping(void **state)
{
	struct tcert *t;

	(void)state;
	t = mk(&(struct spec){ .cn = "a,b+c",
	                       .key = K_LEAF,
	                       .ou = "Intel(R) Client Setup Certificate." },
	       false, NULL);
	assert_string_equal(t->pc->common_name, "a,b+c");
	assert_non_null(strstr(t->pc->subject, "CN=a\\,b\\+c"));
	assert_false(t->pc->has_amt_ou);
	assert_true(t->pc->self_issued);
	assert_true(t->pc->self_signed);
	tcert_free(t);
}

/* A SHA-1 self-signed root still counts as self-signed; sig_sha1 set. */
static void
test_parse_sha1_and_ecdsa(void **state)
{
	struct tcert *root, *leaf;

	(void)state;
	root =
	    mk(&(struct spec){ .cn = "Old Root", .key = K_ROOT, .sha1 = true },
	       true, NULL);
	assert_true(root->pc->sig_sha1);
	assert_string_equal(root->pc->sig_algorithm, "RSA-SHA1");
	assert_true(root->pc->self_signed);
	leaf = mk(&(struct spec){ .cn = "ec.example.com", .key = K_EC }, false,
	          root);
	assert_string_equal(leaf->pc->key_algorithm, "ecdsa");
	assert_int_equal(leaf->pc->key_bits, 256);
	/* The digest is the signer's choice per certificate: SHA-256 here
	 * although the root's own signature is SHA-1. */
	assert_false(leaf->pc->sig_sha1);
	assert_true(pki_cert_is_signed_by(leaf->pc, root->pc));
	tcert_free(leaf);
	tcert_free(root);
}

/* The leaf's spki_sha256 equals the one pki_csr_create() reports. */
static void
test_parse_spki_matches_csr(void **state)
{
	struct pki_secret *key = NULL;
	struct pki_subject subj = { 0 };
	gnutls_x509_privkey_t xk;
	gnutls_privkey_t pk;
	gnutls_datum_t kd;
	char spki[PKI_SHA256_HEX_LEN + 1];
	char *pem = NULL;
	struct tcert *t;

	(void)state;
	assert_int_equal(pki_key_generate_rsa(2048, &key), 0);
	subj.common_name = (char *)(uintptr_t) "amt.example.com";
	assert_int_equal(pki_csr_create(key, &subj, NULL, 0, &pem, spki), 0);
	free(pem);

	assert_int_equal(gnutls_x509_privkey_init(&xk), 0);
	kd.data = key->data;
	kd.size = (unsigned)key->len;
	assert_int_equal(
	    gnutls_x509_privkey_import_pkcs8(xk, &kd, GNUTLS_X509_FMT_DER, NULL,
	                                     GNUTLS_PKCS_PLAIN),
	    0);
	assert_int_equal(gnutls_privkey_init(&pk), 0);
	assert_int_equal(gnutls_privkey_import_x509(pk, xk, 0), 0);
	/* Borrow the K_OTHER slot for this key. */
	gnutls_privkey_t save_k = g_keys[K_OTHER];
	gnutls_x509_privkey_t save_x = g_xkeys[K_OTHER];
	g_keys[K_OTHER] = pk;
	g_xkeys[K_OTHER] = xk;
	t = mk(&(struct spec){ .cn = "amt.example.com", .key = K_OTHER }, false,
	       NULL);
	g_keys[K_OTHER] = save_k;
	g_xkeys[K_OTHER] = save_x;
	assert_string_equal(t->pc->spki_sha256, spki);
	tcert_free(t);
	gnutls_privkey_deinit(pk);
	gnutls_x509_privkey_deinit(xk);
	pki_secret_free(key);
}

static struct pki_cert *const CERT_SENTINEL = (struct pki_cert *)(uintptr_t)0x1;

static const char *
expect_parse_invalid(const unsigned char *der, size_t len)
{
	unsigned char *copy = len ? malloc(len) : NULL;
	struct pki_cert *c = CERT_SENTINEL;
	const char *why = NULL;

	if (len) {
		assert_non_null(copy);
		memcpy(copy, der, len);
	}
	assert_int_equal(pki_cert_parse(copy, len, &c, &why), ERR_INVALID);
	assert_ptr_equal(c, CERT_SENTINEL);
	assert_non_null(why);
	free(copy);
	return why;
}

static void
test_parse_rejects_garbage(void **state)
{
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct tcert *t;
	unsigned char *big;

	(void)state;
	t = mk(&(struct spec){ .cn = "x.example.com", .key = K_LEAF }, false,
	       NULL);
	expect_parse_invalid(junk, sizeof(junk));
	expect_parse_invalid((const unsigned char *)"hello", 5);
	expect_parse_invalid(t->der, 0);
	expect_parse_invalid(t->der, t->der_len - 1); /* truncated */
	expect_parse_invalid(t->der, 10);

	/* One byte too many. */
	big = malloc(70000);
	assert_non_null(big);
	memcpy(big, t->der, t->der_len);
	big[t->der_len] = 0;
	expect_parse_invalid(big, t->der_len + 1);

	/* Over 64 KiB, even when it is one well-formed SEQUENCE. */
	memset(big, 0, 70000);
	big[0] = 0x30;
	big[1] = 0x83;
	big[2] = (unsigned char)((70000 - 5) >> 16);
	big[3] = (unsigned char)((70000 - 5) >> 8);
	big[4] = (unsigned char)(70000 - 5);
	assert_string_equal(expect_parse_invalid(big, 70000),
	                    "certificate is larger than 64 KiB");
	free(big);
	assert_string_equal(expect_parse_invalid(t->der, t->der_len - 1),
	                    "certificate is not valid DER");

	assert_int_equal(pki_cert_parse(t->der, t->der_len, NULL, NULL),
	                 ERR_INVALID);
	tcert_free(t);
}

/* A well-formed certificate just over 64 KiB (many long SANs) is refused;
 * one just under it parses. */
static void
test_parse_size_limit(void **state)
{
	gnutls_x509_crt_t crt;
	gnutls_subject_alt_names_t sans;
	gnutls_datum_t der = { NULL, 0 }, ext = { NULL, 0 };
	struct pki_cert *c = NULL;
	const char *why = NULL;
	char name[128];
	unsigned char serial[] = { 0x01 };
	size_t under = 0;

	(void)state;
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
	assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, 1), 0);
	assert_int_equal(gnutls_x509_crt_set_dn_by_oid(
	                     crt, GNUTLS_OID_X520_COMMON_NAME, 0, "big", 3),
	                 0);
	assert_int_equal(gnutls_x509_crt_set_key(crt, g_xkeys[K_LEAF]), 0);
	assert_int_equal(gnutls_x509_crt_set_activation_time(crt, (time_t)NOW),
	                 0);
	assert_int_equal(
	    gnutls_x509_crt_set_expiration_time(crt, (time_t)(NOW + DAY)), 0);
	/* ~125 bytes per SAN: 450 SANs are about 56 KiB, 600 about 75.
	 * The extension is made in one go (appending is quadratic). */
	assert_int_equal(gnutls_subject_alt_names_init(&sans), 0);
	for (int i = 0; i < 600; i++) {
		gnutls_datum_t nd;
		int n = snprintf(name, sizeof(name),
		                 "host%04d.a-rather-long-label-to-make-the-"
		                 "certificate-big.and-another-long-label-for-"
		                 "the-same-reason.example.com",
		                 i);

		nd.data = (unsigned char *)name;
		nd.size = (unsigned)n;
		assert_int_equal(gnutls_subject_alt_names_set(
		                     sans, GNUTLS_SAN_DNSNAME, &nd, NULL),
		                 0);
		if (i != 449 && i != 599)
			continue;
		assert_int_equal(
		    gnutls_x509_ext_export_subject_alt_names(sans, &ext), 0);
		assert_int_equal(
		    gnutls_x509_crt_set_extension_by_oid(
		        crt, GNUTLS_X509EXT_OID_SAN, ext.data, ext.size, 0),
		    0);
		gnutls_free(ext.data);
		assert_int_equal(
		    gnutls_x509_crt_privkey_sign(crt, crt, g_keys[K_LEAF],
		                                 GNUTLS_DIG_SHA256, 0),
		    0);
		assert_int_equal(
		    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
		c = NULL;
		if (i == 449) {
			assert_true(der.size <= 64 * 1024);
			assert_int_equal(
			    pki_cert_parse(der.data, der.size, &c, &why), 0);
			assert_int_equal(c->dns_count, (size_t)i + 1);
			pki_cert_free(c);
			under++;
		} else {
			assert_true(der.size > 64 * 1024);
			assert_int_equal(
			    pki_cert_parse(der.data, der.size, &c, &why),
			    ERR_INVALID);
			assert_null(c);
			assert_string_equal(why, "certificate is larger than "
			                         "64 KiB");
		}
		gnutls_free(der.data);
		der.data = NULL;
	}
	gnutls_subject_alt_names_deinit(sans);
	assert_int_equal(under, 1);
	gnutls_x509_crt_deinit(crt);
}

/* Every single-byte corruption either parses or is refused: no crash, no
 * leak, no read past the input (ASan). */
static void
test_parse_mutations(void **state)
{
	struct tcert *t;
	unsigned char *copy;
	size_t parsed = 0;

	(void)state;
	t = mk(&(struct spec){ .cn = "m.example.com", .key = K_LEAF }, false,
	       NULL);
	copy = malloc(t->der_len);
	assert_non_null(copy);
	for (size_t i = 0; i < t->der_len; i++) {
		static const unsigned char xors[] = { 0x01, 0x80, 0xff };

		for (size_t k = 0; k < ARRAY_LEN(xors); k++) {
			struct pki_cert *c = NULL;
			int ret;

			memcpy(copy, t->der, t->der_len);
			copy[i] ^= xors[k];
			ret = pki_cert_parse(copy, t->der_len, &c, NULL);
			assert_true(ret == 0 || ret == ERR_INVALID);
			if (ret == 0) {
				parsed++;
				assert_false(c->self_signed &&
				             memcmp(copy, t->der, t->der_len));
				pki_cert_free(c);
			}
		}
	}
	assert_true(parsed > 0);
	free(copy);
	tcert_free(t);
}

static void
test_cert_to_pem(void **state)
{
	struct tcert *t;
	char *pem = NULL;
	gnutls_datum_t in, der = { NULL, 0 };

	(void)state;
	t = mk(&(struct spec){ .cn = "pem.example.com", .key = K_LEAF }, false,
	       NULL);
	assert_int_equal(pki_cert_to_pem(t->pc, &pem), 0);
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----\n"));
	in.data = (unsigned char *)pem;
	in.size = (unsigned)strlen(pem);
	assert_int_equal(gnutls_pem_base64_decode2("CERTIFICATE", &in, &der),
	                 0);
	assert_int_equal(der.size, t->der_len);
	assert_memory_equal(der.data, t->der, t->der_len);
	gnutls_free(der.data);
	free(pem);
	assert_int_equal(pki_cert_to_pem(NULL, &pem), ERR_INVALID);
	tcert_free(t);
}

/* ---- pki_cert_is_signed_by -------------------------------------------- */

static void
test_is_signed_by(void **state)
{
	struct tcert *root, *other, *notca, *leaf, *leaf2, *sha1leaf, *twin;
	struct pki_cert *bad;
	unsigned char *der;

	(void)state;
	root =
	    mk(&(struct spec){ .cn = "Sig Root", .key = K_ROOT }, true, NULL);
	/* Same name, other key: the DN matches, the signature does not. */
	other =
	    mk(&(struct spec){ .cn = "Sig Root", .key = K_ROOT2 }, true, NULL);
	notca = mk(&(struct spec){ .cn = "Not A CA",
	                           .key = K_INT,
	                           .ca_false = true,
	                           .ku_no_certsign = true },
	           true, root);
	leaf = mk(&(struct spec){ .cn = "l.example.com", .key = K_LEAF }, false,
	          root);
	leaf2 = mk(&(struct spec){ .cn = "l2.example.com", .key = K_LEAF },
	           false, notca);
	sha1leaf = mk(&(struct spec){ .cn = "s.example.com",
	                              .key = K_LEAF,
	                              .sha1 = true },
	              false, root);
	/* Signed with its own key under another issuer name: neither
	 * self-issued nor self-signed. */
	{
		struct tcert *own =
		    mk(&(struct spec){ .cn = "Own Key", .key = K_ROOT }, true,
		       root);

		assert_false(own->pc->self_issued);
		assert_false(own->pc->self_signed);
		tcert_free(own);
	}
	/* Same name and key as root: signs the same children. */
	twin =
	    mk(&(struct spec){ .cn = "Sig Root", .key = K_ROOT }, true, other);

	assert_true(pki_cert_is_signed_by(leaf->pc, root->pc));
	assert_true(pki_cert_is_signed_by(leaf->pc, twin->pc));
	assert_false(pki_cert_is_signed_by(leaf->pc, other->pc));
	assert_false(pki_cert_is_signed_by(root->pc, leaf->pc));
	assert_true(pki_cert_is_signed_by(root->pc, root->pc));
	assert_true(pki_cert_is_signed_by(twin->pc, other->pc));
	/* The signature is what counts, not the issuer's CA flags. */
	assert_true(pki_cert_is_signed_by(leaf2->pc, notca->pc));
	/* SHA-1 is a check, not a reason not to link. */
	assert_true(pki_cert_is_signed_by(sha1leaf->pc, root->pc));

	/* A flipped bit in the signature. */
	der = malloc(leaf->der_len);
	assert_non_null(der);
	memcpy(der, leaf->der, leaf->der_len);
	der[leaf->der_len - 1] ^= 0x01;
	bad = parse_der(der, leaf->der_len);
	assert_false(pki_cert_is_signed_by(bad, root->pc));
	pki_cert_free(bad);
	/* A flipped bit in the signed part (the notAfter seconds). */
	memcpy(der, leaf->der, leaf->der_len);
	{
		/* UTCTime: 0x17 0x0d YYMMDDHHMMSSZ; change a seconds digit. */
		size_t i = 0;

		while (i + 15 < leaf->der_len &&
		       !(der[i] == 0x17 && der[i + 1] == 0x0d &&
		         der[i + 14] == 'Z'))
			i++;
		assert_true(i + 15 < leaf->der_len);
		der[i + 13] = der[i + 13] == '0' ? '1' : '0';
	}
	bad = parse_der(der, leaf->der_len);
	assert_false(pki_cert_is_signed_by(bad, root->pc));
	pki_cert_free(bad);
	free(der);

	assert_false(pki_cert_is_signed_by(NULL, root->pc));
	assert_false(pki_cert_is_signed_by(leaf->pc, NULL));

	tcert_free(twin);
	tcert_free(sha1leaf);
	tcert_free(leaf2);
	tcert_free(leaf);
	tcert_free(notca);
	tcert_free(other);
	tcert_free(root);
}

/* AKI/SKI disagree while the name and key match: not linked. */
static void
test_is_signed_by_aki_mismatch(void **state)
{
	struct tcert *root, *leaf;
	struct pki_cert *fake;

	(void)state;
	root =
	    mk(&(struct spec){ .cn = "AKI Root", .key = K_ROOT }, true, NULL);
	leaf = mk(&(struct spec){ .cn = "a.example.com", .key = K_LEAF }, false,
	          root);
	assert_true(pki_cert_is_signed_by(leaf->pc, root->pc));
	fake = parse_der(root->der, root->der_len);
	fake->ski[0] = fake->ski[0] == '0' ? '1' : '0';
	assert_false(pki_cert_is_signed_by(leaf->pc, fake));
	free(fake->ski);
	fake->ski = NULL;
	assert_true(pki_cert_is_signed_by(leaf->pc, fake));
	pki_cert_free(fake);
	tcert_free(leaf);
	tcert_free(root);
}

/* ---- the AMT checks, table-driven -------------------------------------- */

enum list_kind {
	LIST_SHA256 = 0, /* root listed and enabled, by SHA-256 */
	LIST_SHA1,
	LIST_SHA384,
	LIST_DISABLED,
	LIST_NONE,
};

struct vcase {
	const char *name;
	struct spec root, inter, leaf;
	enum list_kind list;
	bool wrong_spki;
	bool no_spki;
	unsigned amt_min, amt_max;
	const char *suffix; /* NULL: "example.com"; "": none */
	const char *id;
	enum pki_status want;
	const char *msg_has; /* substring of the message, or NULL */
};

static const struct vcase vcases[] = {
	{ .name = "key matches", .id = "key_match", .want = PKI_PASS },
	{ .name = "key mismatch",
	  .wrong_spki = true,
	  .id = "key_match",
	  .want = PKI_FAIL,
	  .msg_has = "not the order's key" },
	{ .name = "no order key",
	  .no_spki = true,
	  .id = "key_match",
	  .want = PKI_SKIPPED },
	{ .name = "complete", .id = "chain_complete", .want = PKI_PASS },
	{ .name = "signatures", .id = "signatures", .want = PKI_PASS },
	{ .name = "valid", .id = "validity", .want = PKI_PASS },
	{ .name = "leaf not yet valid",
	  .leaf = { .nb_days = 10, .na_days = 400 },
	  .id = "validity",
	  .want = PKI_FAIL,
	  .msg_has = "leaf amt.example.com is not valid before" },
	{ .name = "leaf expired",
	  .leaf = { .nb_days = -400, .na_days = -1 },
	  .id = "validity",
	  .want = PKI_FAIL,
	  .msg_has = "leaf amt.example.com expired on" },
	{ .name = "intermediate not yet valid",
	  .inter = { .nb_days = 10, .na_days = 400 },
	  .id = "validity",
	  .want = PKI_FAIL,
	  .msg_has = "intermediate Test Issuing CA is not valid before" },
	{ .name = "intermediate expired",
	  .inter = { .nb_days = -400, .na_days = -1 },
	  .id = "validity",
	  .want = PKI_FAIL,
	  .msg_has = "intermediate Test Issuing CA expired" },
	{ .name = "root expired",
	  .root = { .nb_days = -4000, .na_days = -2 },
	  .id = "validity",
	  .want = PKI_FAIL,
	  .msg_has = "root Test Root CA expired" },
	{ .name = "issuers are CAs", .id = "issuer_ca", .want = PKI_PASS },
	{ .name = "intermediate CA:FALSE",
	  .inter = { .ca_false = true },
	  .id = "issuer_ca",
	  .want = PKI_FAIL,
	  .msg_has = "intermediate Test Issuing CA is not a CA" },
	{ .name = "intermediate without basicConstraints",
	  .inter = { .no_bc = true },
	  .id = "issuer_ca",
	  .want = PKI_FAIL,
	  .msg_has = "no basicConstraints" },
	{ .name = "intermediate without keyCertSign",
	  .inter = { .ku_no_certsign = true },
	  .id = "issuer_ca",
	  .want = PKI_FAIL,
	  .msg_has = "keyCertSign" },
	{ .name = "root without keyCertSign",
	  .root = { .ku_no_certsign = true },
	  .id = "issuer_ca",
	  .want = PKI_FAIL,
	  .msg_has = "root Test Root CA" },
	{ .name = "intermediate without keyUsage",
	  .inter = { .no_ku = true },
	  .id = "issuer_ca",
	  .want = PKI_PASS },
	{ .name = "root pathLen 0 over an intermediate",
	  .root = { .pathlen_set = true, .pathlen = 0 },
	  .id = "issuer_ca",
	  .want = PKI_FAIL,
	  .msg_has = "allows 0" },
	{ .name = "root pathLen 1",
	  .root = { .pathlen_set = true, .pathlen = 1 },
	  .id = "issuer_ca",
	  .want = PKI_PASS },
	{ .name = "serverAuth", .id = "eku_server_auth", .want = PKI_PASS },
	{ .name = "no serverAuth",
	  .leaf = { .no_server_auth = true },
	  .id = "eku_server_auth",
	  .want = PKI_FAIL,
	  .msg_has = "lacks serverAuth" },
	{ .name = "AMT OID", .id = "amt_oid", .want = PKI_PASS },
	{ .name = "AMT OID and OU",
	  .leaf = { .ou = PKI_AMT_OU },
	  .id = "amt_oid",
	  .want = PKI_PASS },
	{ .name = "OU only",
	  .leaf = { .no_amt_oid = true, .ou = PKI_AMT_OU },
	  .id = "amt_oid",
	  .want = PKI_WARN,
	  .msg_has = "Open AMT RPS" },
	{ .name = "neither OID nor OU",
	  .leaf = { .no_amt_oid = true },
	  .id = "amt_oid",
	  .want = PKI_FAIL,
	  .msg_has = "neither" },
	{ .name = "OU with a trailing period",
	  .leaf = { .no_amt_oid = true,
	            .ou = "Intel(R) Client Setup Certificate." },
	  .id = "amt_oid",
	  .want = PKI_FAIL },
	{ .name = "RSA leaf", .id = "leaf_key_type", .want = PKI_PASS },
	{ .name = "ECDSA leaf",
	  .leaf = { .key = K_EC },
	  .id = "leaf_key_type",
	  .want = PKI_FAIL,
	  .msg_has = "ecdsa, not RSA: node-forge" },
	{ .name = "RSA 2048", .id = "rsa_size", .want = PKI_PASS },
	{ .name = "ECDSA leaf, RSA issuers",
	  .leaf = { .key = K_EC },
	  .id = "rsa_size",
	  .want = PKI_PASS },
	{ .name = "RSA 1024 intermediate",
	  .inter = { .key = K_RSA1024 },
	  .id = "rsa_size",
	  .want = PKI_FAIL,
	  .msg_has = "intermediate Test Issuing CA has a 1024-bit RSA key" },
	{ .name = "RSA 1024 leaf",
	  .leaf = { .key = K_RSA1024 },
	  .id = "rsa_size",
	  .want = PKI_FAIL,
	  .msg_has = "leaf amt.example.com has a 1024-bit" },
	{ .name = "RSA 1024 root",
	  .root = { .key = K_RSA1024 },
	  .id = "rsa_size",
	  .want = PKI_FAIL,
	  .msg_has = "root Test Root CA" },
	{ .name = "SHA-2 everywhere", .id = "sha1", .want = PKI_PASS },
	{ .name = "SHA-1 leaf",
	  .leaf = { .sha1 = true },
	  .id = "sha1",
	  .want = PKI_FAIL,
	  .msg_has = "leaf amt.example.com is signed with RSA-SHA1" },
	{ .name = "SHA-1 intermediate",
	  .inter = { .sha1 = true },
	  .id = "sha1",
	  .want = PKI_FAIL,
	  .msg_has = "intermediate Test Issuing CA is signed with RSA-SHA1" },
	{ .name = "SHA-1 root, AMT versions not said",
	  .root = { .sha1 = true },
	  .id = "sha1",
	  .want = PKI_WARN,
	  .msg_has = "root Test Root CA is self-signed with RSA-SHA1" },
	{ .name = "SHA-1 root, up to AMT 15",
	  .root = { .sha1 = true },
	  .amt_min = 11,
	  .amt_max = 15,
	  .id = "sha1",
	  .want = PKI_WARN },
	{ .name = "SHA-1 root, up to AMT 16",
	  .root = { .sha1 = true },
	  .amt_max = 16,
	  .id = "sha1",
	  .want = PKI_FAIL,
	  .msg_has = "root Test Root CA" },
	{ .name = "SHA-1 root, AMT 16 and later",
	  .root = { .sha1 = true },
	  .amt_min = 16,
	  .id = "sha1",
	  .want = PKI_FAIL },
	{ .name = "root by SHA-256",
	  .id = "root_trusted",
	  .want = PKI_PASS,
	  .msg_has = "as \"Test Root\" (matched by sha256)" },
	{ .name = "root by SHA-1",
	  .list = LIST_SHA1,
	  .id = "root_trusted",
	  .want = PKI_PASS,
	  .msg_has = "matched by sha1" },
	{ .name = "root by SHA-384",
	  .list = LIST_SHA384,
	  .id = "root_trusted",
	  .want = PKI_PASS,
	  .msg_has = "matched by sha384" },
	{ .name = "root listed, not enabled",
	  .list = LIST_DISABLED,
	  .id = "root_trusted",
	  .want = PKI_FAIL,
	  .msg_has = "\"Test Root\", which is not enabled" },
	{ .name = "root not listed",
	  .list = LIST_NONE,
	  .id = "root_trusted",
	  .want = PKI_FAIL,
	  .msg_has = "root Test Root CA (SHA-256 " },
	{ .name = "Intel suffix by CN",
	  .id = "suffix_intel",
	  .want = PKI_PASS,
	  .msg_has = "CN \"amt.example.com\"" },
	{ .name = "Intel suffix, .com two labels",
	  .suffix = "corp.example.com",
	  .id = "suffix_intel",
	  .want = PKI_PASS },
	{ .name = "Intel suffix by dNSName only",
	  .leaf = { .cn = "amt-host", .san = { "amt.example.com" } },
	  .id = "suffix_intel",
	  .want = PKI_PASS,
	  .msg_has = "dNSName \"amt.example.com\"" },
	{ .name = "Intel suffix mismatch",
	  .suffix = "example.org",
	  .id = "suffix_intel",
	  .want = PKI_FAIL },
	{ .name = "Intel suffix, co.uk needs three labels",
	  .leaf = { .cn = "amt.example.co.uk" },
	  .suffix = "other.co.uk",
	  .id = "suffix_intel",
	  .want = PKI_FAIL },
	{ .name = "Intel suffix skipped",
	  .suffix = "",
	  .id = "suffix_intel",
	  .want = PKI_SKIPPED },
	{ .name = "RPS suffix by CN", .id = "suffix_rps", .want = PKI_PASS },
	{ .name = "RPS suffix, CN not under the suffix",
	  .leaf = { .cn = "amt-host", .san = { "amt.example.com" } },
	  .id = "suffix_rps",
	  .want = PKI_WARN,
	  .msg_has = "Open AMT RPS will refuse" },
	{ .name = "RPS suffix mismatch",
	  .suffix = "example.org",
	  .id = "suffix_rps",
	  .want = PKI_WARN },
	{ .name = "RPS suffix, case-sensitive",
	  .leaf = { .cn = "amt.Example.com" },
	  .id = "suffix_rps",
	  .want = PKI_WARN },
	{ .name = "RPS suffix, co.uk last two labels",
	  .leaf = { .cn = "amt.example.co.uk" },
	  .suffix = "other.co.uk",
	  .id = "suffix_rps",
	  .want = PKI_PASS },
	{ .name = "RPS suffix skipped",
	  .suffix = "",
	  .id = "suffix_rps",
	  .want = PKI_SKIPPED },
	{ .name = "three certificates",
	  .id = "chain_length",
	  .want = PKI_PASS },
};

/* Fills the zero fields of s with the defaults of its position. */
static struct spec
spec_default(const struct spec *s, const char *cn, enum test_key key)
{
	struct spec out = *s;

	if (!out.cn)
		out.cn = cn;
	if (out.key == K_NONE)
		out.key = key;
	return out;
}

static void
run_vcase(const struct vcase *vc)
{
	struct spec rs = spec_default(&vc->root, "Test Root CA", K_ROOT);
	struct spec is = spec_default(&vc->inter, "Test Issuing CA", K_INT);
	struct spec ls = spec_default(&vc->leaf, "amt.example.com", K_LEAF);
	struct tcert *root, *inter, *leaf, *others[2];
	struct pki_amt_root entries[2];
	struct pki_verify_opts o;
	struct pki_report *r = NULL;
	const struct pki_check *c;
	struct built b;
	size_t nentries = 1;

	root = mk(&rs, true, NULL);
	inter = mk(&is, true, root);
	leaf = mk(&ls, false, inter);
	others[0] = inter;
	others[1] = root;

	/* An unrelated entry first, so matching is not "entry 0". */
	entries[0] = entry_for(inter, "Unrelated", "sha256", true);
	switch (vc->list) {
	case LIST_SHA1:
		entries[1] = entry_for(root, "Test Root", "sha1", true);
		break;
	case LIST_SHA384:
		entries[1] = entry_for(root, "Test Root", "sha384", true);
		break;
	case LIST_DISABLED:
		entries[1] = entry_for(root, "Test Root", "sha256", false);
		break;
	case LIST_NONE:
		break;
	default:
		entries[1] = entry_for(root, "Test Root", "sha256", true);
		break;
	}
	if (vc->list != LIST_NONE)
		nentries = 2;

	if (build(&b, leaf, others, 2, entries, nentries, false) != 0)
		fail_msg("%s: pki_chain_build failed", vc->name);
	if (b.npaths != 1 ||
	    !path_is(&b.paths[0], (struct tcert *[]){ leaf, inter, root }, 3))
		fail_msg("%s: unexpected path", vc->name);

	o = default_opts(leaf);
	if (vc->wrong_spki)
		o.expected_spki = root->pc->spki_sha256;
	if (vc->no_spki)
		o.expected_spki = NULL;
	o.amt_min = vc->amt_min;
	o.amt_max = vc->amt_max;
	if (vc->suffix)
		o.dns_suffix = vc->suffix[0] ? vc->suffix : NULL;

	assert_int_equal(pki_verify_path(&b.paths[0], &o, &r), 0);
	c = find_check(r, vc->id);
	if (c->status != vc->want)
		fail_msg("%s: %s is %s, want %s (%s)", vc->name, vc->id,
		         pki_status_name(c->status), pki_status_name(vc->want),
		         c->message);
	assert_non_null(c->message);
	assert_null(strchr(c->message, '\n'));
	if (vc->msg_has && !strstr(c->message, vc->msg_has))
		fail_msg("%s: message \"%s\" lacks \"%s\"", vc->name,
		         c->message, vc->msg_has);
	if (c->status == PKI_WARN || c->status == PKI_FAIL) {
		if (!c->fix || !c->fix[0])
			fail_msg("%s: %s has no fix", vc->name, vc->id);
		if (r->overall < c->status)
			fail_msg("%s: overall %s below %s", vc->name,
			         pki_status_name(r->overall),
			         pki_status_name(c->status));
	} else if (c->fix) {
		fail_msg("%s: %s has a fix", vc->name, vc->id);
	}

	pki_report_free(r);
	built_clear(&b);
	tcert_free(leaf);
	tcert_free(inter);
	tcert_free(root);
}

static void
test_checks_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(vcases); i++)
		run_vcase(&vcases[i]);
}

/* The good chain passes every check, in the documented order. */
static void
test_report_all_pass(void **state)
{
	static const char *const ids[] = {
		"key_match",  "chain_complete", "signatures",
		"validity",   "issuer_ca",      "eku_server_auth",
		"amt_oid",    "leaf_key_type",  "rsa_size",
		"sha1",       "root_trusted",   "suffix_intel",
		"suffix_rps", "chain_length",
	};
	struct tcert *root, *inter, *leaf, *others[2];
	struct pki_amt_root e;
	struct pki_verify_opts o;
	struct pki_report *r = NULL;
	struct built b;

	(void)state;
	root = mk(&(struct spec){ .cn = "Root", .key = K_ROOT }, true, NULL);
	inter = mk(&(struct spec){ .cn = "CA", .key = K_INT }, true, root);
	leaf = mk(&(struct spec){ .cn = "amt.example.com", .key = K_LEAF },
	          false, inter);
	others[0] = root;
	others[1] = inter;
	e = entry_for(root, "Root", "sha256", true);
	assert_int_equal(build(&b, leaf, others, 2, &e, 1, true), 0);
	o = default_opts(leaf);
	o.amt_min = 12;
	o.amt_max = 18;
	assert_int_equal(pki_verify_path(&b.paths[0], &o, &r), 0);
	assert_int_equal(r->count, ARRAY_LEN(ids));
	for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
		assert_string_equal(r->checks[i].id, ids[i]);
		if (r->checks[i].status != PKI_PASS)
			fail_msg("%s: %s", ids[i], r->checks[i].message);
		assert_null(r->checks[i].fix);
	}
	assert_int_equal(r->overall, PKI_PASS);
	pki_report_free(r);

	/* OU only: the worst is a warning. */
	built_clear(&b);
	tcert_free(leaf);
	leaf = mk(&(struct spec){ .cn = "amt.example.com",
	                          .key = K_LEAF,
	                          .ou = PKI_AMT_OU,
	                          .no_amt_oid = true },
	          false, inter);
	assert_int_equal(build(&b, leaf, others, 2, &e, 1, true), 0);
	o = default_opts(leaf);
	assert_int_equal(pki_verify_path(&b.paths[0], &o, &r), 0);
	assert_int_equal(r->overall, PKI_WARN);
	pki_report_free(r);

	/* A failure wins over the warning; skipped checks do not count. */
	o.at = NOW + 400 * DAY;
	o.dns_suffix = NULL;
	o.expected_spki = NULL;
	assert_int_equal(pki_verify_path(&b.paths[0], &o, &r), 0);
	assert_int_equal(r->overall, PKI_FAIL);
	assert_int_equal(find_check(r, "key_match")->status, PKI_SKIPPED);
	pki_report_free(r);

	assert_int_equal(pki_verify_path(NULL, &o, &r), ERR_INVALID);
	assert_int_equal(pki_verify_path(&b.paths[0], NULL, &r), ERR_INVALID);
	built_clear(&b);
	tcert_free(leaf);
	tcert_free(inter);
	tcert_free(root);
}

static void
test_status_names(void **state)
{
	(void)state;
	assert_string_equal(pki_status_name(PKI_PASS), "pass");
	assert_string_equal(pki_status_name(PKI_WARN), "warn");
	assert_string_equal(pki_status_name(PKI_FAIL), "fail");
	assert_string_equal(pki_status_name(PKI_SKIPPED), "skipped");
}

/* Paths made by hand: a wrong link and a forged leaf signature. */
static void
test_signatures_fail(void **state)
{
	struct tcert *root, *inter, *leaf;
	struct pki_candidate cl, ci, cr, cbad;
	const struct pki_candidate *certs[3];
	struct pki_path p;
	struct pki_verify_opts o;
	struct pki_report *r = NULL;
	const struct pki_check *c;
	struct pki_cert *bad;
	unsigned char *der;
	struct built b;
	struct tcert *others[2];

	(void)state;
	root =
	    mk(&(struct spec){ .cn = "Sig Root", .key = K_ROOT }, true, NULL);
	inter = mk(&(struct spec){ .cn = "Sig CA", .key = K_INT }, true, root);
	leaf = mk(&(struct spec){ .cn = "amt.example.com", .key = K_LEAF },
	          false, inter);
	cl = (struct pki_candidate){ leaf->pc, PKI_ORIGIN_UPLOAD };
	ci = (struct pki_candidate){ inter->pc, PKI_ORIGIN_UPLOAD };
	cr = (struct pki_candidate){ root->pc, PKI_ORIGIN_UPLOAD };
	o = default_opts(leaf);

	/* leaf -> root skips the intermediate. */
	memset(&p, 0, sizeof(p));
	certs[0] = &cl;
	certs[1] = &cr;
	p.certs = certs;
	p.len = 2;
	p.complete = true;
	assert_int_equal(pki_verify_path(&p, &o, &r), 0);
	c = find_check(r, "signatures");
	assert_int_equal(c->status, PKI_FAIL);
	assert_non_null(strstr(c->message, "leaf amt.example.com is not "
	                                   "signed by root Sig Root"));
	assert_non_null(c->fix);
	pki_report_free(r);

	/* The right path passes. */
	certs[1] = &ci;
	certs[2] = &cr;
	p.len = 3;
	assert_int_equal(pki_verify_path(&p, &o, &r), 0);
	assert_int_equal(find_check(r, "signatures")->status, PKI_PASS);
	pki_report_free(r);

	/* A leaf whose signature was tampered with. */
	der = malloc(leaf->der_len);
	assert_non_null(der);
	memcpy(der, leaf->der, leaf->der_len);
	der[leaf->der_len - 5] ^= 0x40;
	bad = parse_der(der, leaf->der_len);
	free(der);
	cbad = (struct pki_candidate){ bad, PKI_ORIGIN_UPLOAD };
	certs[0] = &cbad;
	assert_int_equal(pki_verify_path(&p, &o, &r), 0);
	assert_int_equal(find_check(r, "signatures")->status, PKI_FAIL);
	assert_int_equal(r->overall, PKI_FAIL);
	pki_report_free(r);

	/* The builder does not link it: one incomplete path. */
	others[0] = inter;
	others[1] = root;
	{
		struct tcert tb = *leaf;

		tb.pc = bad;
		assert_int_equal(build(&b, &tb, others, 2, NULL, 0, false), 0);
	}
	assert_int_equal(b.npaths, 1);
	assert_int_equal(b.paths[0].len, 1);
	assert_false(b.paths[0].complete);
	assert_int_equal(pki_verify_path(&b.paths[0], &o, &r), 0);
	assert_int_equal(find_check(r, "signatures")->status, PKI_SKIPPED);
	assert_int_equal(find_check(r, "chain_complete")->status, PKI_FAIL);
	assert_non_null(strstr(find_check(r, "chain_complete")->message,
	                       "its issuer CN=Sig CA is missing"));
	assert_int_equal(find_check(r, "root_trusted")->status, PKI_FAIL);
	assert_int_equal(find_check(r, "issuer_ca")->status, PKI_SKIPPED);
	pki_report_free(r);
	built_clear(&b);

	pki_cert_free(bad);
	tcert_free(leaf);
	tcert_free(inter);
	tcert_free(root);
}

/* Five certificates: over RPS's limit; four: within it. */
static void
test_chain_length(void **state)
{
	struct tcert *root, *i1, *i2, *i3, *leaf4, *leaf5, *others[4];
	struct pki_amt_root e;
	struct pki_verify_opts o;
	struct pki_report *r = NULL;
	const struct pki_check *c;
	struct built b;

	(void)state;
	root =
	    mk(&(struct spec){ .cn = "Len Root", .key = K_ROOT }, true, NULL);
	i1 = mk(&(struct spec){ .cn = "Len CA 1", .key = K_INT }, true, root);
	i2 = mk(&(struct spec){ .cn = "Len CA 2", .key = K_INT2 }, true, i1);
	i3 = mk(&(struct spec){ .cn = "Len CA 3", .key = K_OTHER }, true, i2);
	leaf5 = mk(&(struct spec){ .cn = "amt.example.com", .key = K_LEAF },
	           false, i3);
	leaf4 = mk(&(struct spec){ .cn = "amt.example.com", .key = K_LEAF },
	           false, i2);
	e = entry_for(root, "Len Root", "sha256", true);
	others[0] = i3;
	others[1] = root;
	others[2] = i1;
	others[3] = i2;

	assert_int_equal(build(&b, leaf5, others, 4, &e, 1, false), 0);
	assert_int_equal(b.npaths, 1);
	assert_true(path_is(&b.paths[0],
	                    (struct tcert *[]){ leaf5, i3, i2, i1, root }, 5));
	o = default_opts(leaf5);
	assert_int_equal(pki_verify_path(&b.paths[0], &o, &r), 0);
	c = find_check(r, "chain_length");
	assert_int_equal(c->status, PKI_FAIL);
	assert_non_null(strstr(c->message, "5 certificates"));
	assert_non_null(strstr(c->message, "RPS"));
	assert_int_equal(find_check(r, "root_trusted")->status, PKI_PASS);
	pki_report_free(r);
	built_clear(&b);

	assert_int_equal(build(&b, leaf4, others, 4, &e, 1, false), 0);
	assert_int_equal(b.npaths, 1);
	assert_int_equal(b.paths[0].len, 4);
	o = default_opts(leaf4);
	assert_int_equal(pki_verify_path(&b.paths[0], &o, &r), 0);
	assert_int_equal(find_check(r, "chain_length")->status, PKI_PASS);
	pki_report_free(r);
	built_clear(&b);

	tcert_free(leaf4);
	tcert_free(leaf5);
	tcert_free(i3);
	tcert_free(i2);
	tcert_free(i1);
	tcert_free(root);
}

/* ---- path choice ------------------------------------------------------ */

/* Input order does not matter; an unrelated certificate is ignored. */
static void
test_build_order_and_extras(void **state)
{
	struct tcert *root, *inter, *leaf, *stray_root, *stray_leaf;
	struct pki_amt_root e;
	struct built b1, b2;

	(void)state;
	root =
	    mk(&(struct spec){ .cn = "Order Root", .key = K_ROOT }, true, NULL);
	inter =
	    mk(&(struct spec){ .cn = "Order CA", .key = K_INT }, true, root);
	leaf = mk(&(struct spec){ .cn = "amt.example.com", .key = K_LEAF },
	          false, inter);
	stray_root = mk(&(struct spec){ .cn = "Stray Root", .key = K_ROOT2 },
	                true, NULL);
	stray_leaf =
	    mk(&(struct spec){ .cn = "stray.example.com", .key = K_OTHER },
	       false, stray_root);
	e = entry_for(root, "Order Root", "sha256", true);

	assert_int_equal(build(&b1, leaf, (struct tcert *[]){ root, inter }, 2,
	                       &e, 1, false),
	                 0);
	assert_int_equal(
	    build(&b2, leaf,
	          (struct tcert *[]){ stray_leaf, inter, stray_root, root }, 4,
	          &e, 1, false),
	    0);
	assert_int_equal(b1.npaths, 1);
	assert_int_equal(b2.npaths, 1);
	assert_true(
	    path_is(&b1.paths[0], (struct tcert *[]){ leaf, inter, root }, 3));
	assert_true(
	    path_is(&b2.paths[0], (struct tcert *[]){ leaf, inter, root }, 3));
	assert_true(b1.paths[0].complete);
	assert_true(b1.paths[0].amt_trusted);
	assert_ptr_equal(b1.paths[0].amt_root, &e);
	assert_string_equal(b1.paths[0].amt_hash_alg, "sha256");
	assert_null(b1.paths[0].why_not_chosen);
	built_clear(&b1);
	built_clear(&b2);

	/* The same root known twice: the enabled entry wins, wherever it
	 * is in the list. */
	{
		struct pki_amt_root two[2];

		two[0] = entry_for(root, "Known", "sha256", false);
		two[1] = entry_for(root, "Enabled", "sha1", true);
		assert_int_equal(build(&b1, leaf,
		                       (struct tcert *[]){ root, inter }, 2,
		                       two, 2, false),
		                 0);
		assert_true(b1.paths[0].amt_trusted);
		assert_false(b1.paths[0].known_not_enabled);
		assert_ptr_equal(b1.paths[0].amt_root, &two[1]);
		assert_string_equal(b1.paths[0].amt_hash_alg, "sha1");
		built_clear(&b1);
	}

	/* The leaf among the candidates, and a duplicate from the pool. */
	memset(&b1, 0, sizeof(b1));
	b1.leaf = (struct pki_candidate){ leaf->pc, PKI_ORIGIN_UPLOAD };
	b1.cands[0] = (struct pki_candidate){ inter->pc, PKI_ORIGIN_POOL };
	b1.cands[1] = (struct pki_candidate){ leaf->pc, PKI_ORIGIN_UPLOAD };
	b1.cands[2] = (struct pki_candidate){ root->pc, PKI_ORIGIN_SYSTEM };
	/* Another parsed copy of the intermediate: equal DER. */
	struct pki_cert *inter_copy = parse_der(inter->der, inter->der_len);
	b1.cands[3] = (struct pki_candidate){ inter_copy, PKI_ORIGIN_UPLOAD };
	assert_int_equal(pki_chain_build(&b1.leaf, b1.cands, 4, &e, 1, false,
	                                 &b1.paths, &b1.npaths),
	                 0);
	assert_int_equal(b1.npaths, 1);
	assert_int_equal(b1.paths[0].len, 3);
	assert_ptr_equal(b1.paths[0].certs[0], &b1.leaf);
	assert_ptr_equal(b1.paths[0].certs[1], &b1.cands[3]); /* upload wins */
	assert_ptr_equal(b1.paths[0].certs[2], &b1.cands[2]);
	built_clear(&b1);
	pki_cert_free(inter_copy);

	tcert_free(stray_leaf);
	tcert_free(stray_root);
	tcert_free(leaf);
	tcert_free(inter);
	tcert_free(root);
}

/* The root is missing: the one path stops at the intermediate. */
static void
test_build_missing_intermediate(void **state)
{
	struct tcert *root, *inter, *leaf;
	struct pki_amt_root e;
	struct built b;

	(void)state;
	root =
	    mk(&(struct spec){ .cn = "Miss Root", .key = K_ROOT }, true, NULL);
	inter = mk(&(struct spec){ .cn = "Miss CA", .key = K_INT }, true, root);
	leaf = mk(&(struct spec){ .cn = "amt.example.com", .key = K_LEAF },
	          false, inter);
	e = entry_for(root, "Miss Root", "sha256", true);

	/* Only the root: the leaf's issuer is missing. */
	assert_int_equal(
	    build(&b, leaf, (struct tcert *[]){ root }, 1, &e, 1, false), 0);
	assert_int_equal(b.npaths, 1);
	assert_true(path_is(&b.paths[0], (struct tcert *[]){ leaf }, 1));
	assert_false(b.paths[0].complete);
	assert_false(b.paths[0].amt_trusted);
	assert_null(b.paths[0].amt_root);
	built_clear(&b);

	/* Only the intermediate: incomplete at the intermediate. */
	assert_int_equal(
	    build(&b, leaf, (struct tcert *[]){ inter }, 1, &e, 1, false), 0);
	assert_int_equal(b.npaths, 1);
	assert_true(path_is(&b.paths[0], (struct tcert *[]){ leaf, inter }, 2));
	assert_false(b.paths[0].complete);
	built_clear(&b);

	/* An incomplete path's last certificate is not a root: SHA-1 there
	 * is a failure, not the root warning. */
	{
		struct tcert *sha1_int = mk(&(struct spec){ .cn = "Miss CA",
		                                            .key = K_INT,
		                                            .sha1 = true },
		                            true, root);
		struct pki_verify_opts o = default_opts(leaf);
		struct pki_report *r = NULL;
		const struct pki_check *c;

		assert_int_equal(build(&b, leaf, (struct tcert *[]){ sha1_int },
		                       1, &e, 1, false),
		                 0);
		assert_int_equal(b.paths[0].len, 2);
		assert_false(b.paths[0].complete);
		assert_int_equal(pki_verify_path(&b.paths[0], &o, &r), 0);
		c = find_check(r, "sha1");
		assert_int_equal(c->status, PKI_FAIL);
		assert_non_null(strstr(c->message, "intermediate Miss CA"));
		pki_report_free(r);
		built_clear(&b);
		tcert_free(sha1_int);
	}

	/* No candidates at all. */
	assert_int_equal(build(&b, leaf, NULL, 0, NULL, 0, false), 0);
	assert_int_equal(b.npaths, 1);
	assert_int_equal(b.paths[0].len, 1);
	built_clear(&b);

	/* A self-signed leaf is a complete path of one. */
	assert_int_equal(
	    build(&b, root, (struct tcert *[]){ inter, leaf }, 2, &e, 1, false),
	    0);
	assert_int_equal(b.npaths, 1);
	assert_int_equal(b.paths[0].len, 1);
	assert_true(b.paths[0].complete);
	assert_true(b.paths[0].amt_trusted);
	built_clear(&b);

	tcert_free(leaf);
	tcert_free(inter);
	tcert_free(root);
}

/*
 * The Sectigo situation: an intermediate under USERTrust, which exists
 * self-signed and cross-signed by AAA (SHA-1 root). Only AAA is in the
 * AMT list: the path through the cross-signed one must win.
 */
struct twin_pki {
	struct tcert *aaa, *ut_self, *ut_cross, *inter, *leaf;
};

static void
twin_make(struct twin_pki *t)
{
	t->aaa = mk(&(struct spec){ .cn = "AAA Test Services",
	                            .key = K_ROOT2,
	                            .sha1 = true,
	                            .na_days = 1000 },
	            true, NULL);
	t->ut_self = mk(&(struct spec){ .cn = "UserTest RSA CA",
	                                .key = K_ROOT,
	                                .na_days = 5000 },
	                true, NULL);
	t->ut_cross = mk(&(struct spec){ .cn = "UserTest RSA CA",
	                                 .key = K_ROOT,
	                                 .na_days = 1000 },
	                 true, t->aaa);
	t->inter = mk(&(struct spec){ .cn = "Test OV CA", .key = K_INT }, true,
	              t->ut_self);
	t->leaf = mk(&(struct spec){ .cn = "amt.example.com", .key = K_LEAF },
	             false, t->inter);
}

static void
twin_free(struct twin_pki *t)
{
	tcert_free(t->leaf);
	tcert_free(t->inter);
	tcert_free(t->ut_cross);
	tcert_free(t->ut_self);
	tcert_free(t->aaa);
}

static void
test_build_cross_signed_twin(void **state)
{
	struct twin_pki t;
	struct pki_amt_root e;
	struct built b, b2;
	const char *why;

	(void)state;
	twin_make(&t);
	assert_true(t.ut_self->pc->self_signed);
	assert_false(t.ut_cross->pc->self_signed);
	assert_string_equal(t.ut_self->pc->spki_sha256,
	                    t.ut_cross->pc->spki_sha256);
	e = entry_for(t.aaa, "AAA Test", "sha256", true);

	assert_int_equal(
	    build(&b, t.leaf,
	          (struct tcert *[]){ t.ut_self, t.inter, t.aaa, t.ut_cross },
	          4, &e, 1, true),
	    0);
	assert_int_equal(b.npaths, 2);
	assert_true(path_is(
	    &b.paths[0],
	    (struct tcert *[]){ t.leaf, t.inter, t.ut_cross, t.aaa }, 4));
	assert_true(b.paths[0].complete);
	assert_true(b.paths[0].amt_trusted);
	assert_true(b.paths[0].root_sha1_signed);
	assert_null(b.paths[0].why_not_chosen);
	assert_true(path_is(
	    &b.paths[1], (struct tcert *[]){ t.leaf, t.inter, t.ut_self }, 3));
	assert_true(b.paths[1].complete);
	assert_false(b.paths[1].amt_trusted);
	why = b.paths[1].why_not_chosen;
	assert_non_null(why);
	assert_non_null(strstr(why, "ends at self-signed UserTest RSA CA, "
	                            "which is not in the AMT list"));
	assert_non_null(strstr(why, "cross-signed UserTest RSA CA to AAA "
	                            "Test Services"));
	assert_null(strchr(why, '\n'));

	/* Same answer whatever the candidate order. */
	assert_int_equal(
	    build(&b2, t.leaf,
	          (struct tcert *[]){ t.ut_cross, t.aaa, t.inter, t.ut_self },
	          4, &e, 1, true),
	    0);
	assert_int_equal(b2.npaths, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(b.paths[i].len, b2.paths[i].len);
		for (size_t k = 0; k < b.paths[i].len; k++)
			assert_ptr_equal(b.paths[i].certs[k]->cert,
			                 b2.paths[i].certs[k]->cert);
	}
	assert_string_equal(b.paths[1].why_not_chosen,
	                    b2.paths[1].why_not_chosen);
	built_clear(&b2);
	built_clear(&b);

	/* Without the cross-signed one, the self-signed path is all. */
	assert_int_equal(build(&b, t.leaf,
	                       (struct tcert *[]){ t.ut_self, t.inter, t.aaa },
	                       3, &e, 1, true),
	                 0);
	assert_int_equal(b.npaths, 1);
	assert_false(b.paths[0].amt_trusted);
	built_clear(&b);

	/* AAA known but not enabled: still ranked above the unknown root
	 * (and reported as "enable it"), although it is longer. */
	e.enabled = false;
	assert_int_equal(
	    build(&b, t.leaf,
	          (struct tcert *[]){ t.ut_self, t.inter, t.aaa, t.ut_cross },
	          4, &e, 1, true),
	    0);
	assert_int_equal(b.npaths, 2);
	assert_int_equal(b.paths[0].len, 4);
	assert_true(b.paths[0].known_not_enabled);
	assert_false(b.paths[0].amt_trusted);
	assert_ptr_equal(b.paths[0].amt_root, &e);
	assert_non_null(strstr(b.paths[1].why_not_chosen, "not in the AMT "
	                                                  "list"));
	built_clear(&b);

	/* Nothing listed: the shorter path wins. */
	assert_int_equal(
	    build(&b, t.leaf,
	          (struct tcert *[]){ t.ut_self, t.inter, t.aaa, t.ut_cross },
	          4, NULL, 0, true),
	    0);
	assert_int_equal(b.npaths, 2);
	assert_int_equal(b.paths[0].len, 3);
	assert_non_null(strstr(b.paths[1].why_not_chosen, "is longer: 4 "
	                                                  "certificates "
	                                                  "against 3"));
	built_clear(&b);

	twin_free(&t);
}

/*
 * A signature memo answers exactly as pki_cert_is_signed_by() for every
 * pair, asks each pair once, and building,
 * checking and classifying with one give the answers they give without.
 */
static void
test_sig_memo(void **state)
{
	struct twin_pki t;
	struct tcert *other, *all[6];
	struct pki_sig_memo *m = NULL;
	struct pki_amt_root e;
	struct pki_path *paths = NULL;
	struct pki_verify_opts o = { .at = 1 };
	struct pki_report *r1 = NULL, *r2 = NULL;
	struct built b;
	const struct pki_cert *certs[5], *ctx[5];
	enum pki_role roles1[5], roles2[5];
	char *why1[5], *why2[5];
	unsigned char saved;
	size_t npaths = 0, pairs = 0;

	(void)state;
	twin_make(&t);
	/* same name as the root, another key: names match, signatures not */
	other = mk(&(struct spec){ .cn = "AAA Test Services", .key = K_LEAF },
	           true, NULL);
	all[0] = t.aaa;
	all[1] = t.ut_self;
	all[2] = t.ut_cross;
	all[3] = t.inter;
	all[4] = t.leaf;
	all[5] = other;
	assert_int_equal(pki_sig_memo_new(&m), 0);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < ARRAY_LEN(all); i++) {
			for (size_t k = 0; k < ARRAY_LEN(all); k++) {
				bool want = pki_cert_is_signed_by(all[i]->pc,
				                                  all[k]->pc);

				pairs += want;
				assert_int_equal(pki_sig_memo_signed_by(
				                     m, all[i]->pc, all[k]->pc),
				                 want);
			}
		}
	}
	/* self-signed aaa, ut_self and other; ut_cross by aaa; ut_self by
	 * ut_cross and inter by both (one key); leaf by inter. 11 pairs have
	 * matching names: the memo grew twice. */
	assert_int_equal(pairs, 2 * 8);
	/* A remembered pair is not verified again: a broken signature
	 * keeps the verdict the memo gave it. */
	saved = t.leaf->pc->sig[0];
	t.leaf->pc->sig[0] ^= 0x01;
	assert_false(pki_cert_is_signed_by(t.leaf->pc, t.inter->pc));
	assert_true(pki_sig_memo_signed_by(m, t.leaf->pc, t.inter->pc));
	assert_false(pki_sig_memo_signed_by(NULL, t.leaf->pc, t.inter->pc));
	t.leaf->pc->sig[0] = saved;
	assert_false(pki_sig_memo_signed_by(m, NULL, t.inter->pc));
	pki_sig_memo_free(m);
	pki_sig_memo_free(NULL);

	/* Same paths, report and roles with a memo as without. */
	e = entry_for(t.aaa, "AAA Test", "sha256", true);
	assert_int_equal(
	    build(&b, t.leaf,
	          (struct tcert *[]){ t.ut_self, t.inter, t.aaa, t.ut_cross },
	          4, &e, 1, true),
	    0);
	assert_int_equal(pki_sig_memo_new(&m), 0);
	assert_int_equal(pki_chain_build_memo(&b.leaf, b.cands, 4, &e, 1, true,
	                                      m, &paths, &npaths),
	                 0);
	assert_int_equal(npaths, b.npaths);
	for (size_t i = 0; i < npaths; i++) {
		assert_int_equal(paths[i].len, b.paths[i].len);
		for (size_t k = 0; k < paths[i].len; k++)
			assert_ptr_equal(paths[i].certs[k],
			                 b.paths[i].certs[k]);
		if (i > 0)
			assert_string_equal(paths[i].why_not_chosen,
			                    b.paths[i].why_not_chosen);
	}
	assert_int_equal(pki_verify_path(&b.paths[0], &o, &r1), 0);
	o.memo = m;
	assert_int_equal(pki_verify_path(&paths[0], &o, &r2), 0);
	assert_int_equal(r1->count, r2->count);
	for (size_t i = 0; i < r1->count; i++) {
		assert_int_equal(r1->checks[i].status, r2->checks[i].status);
		assert_string_equal(r1->checks[i].message,
		                    r2->checks[i].message);
	}
	for (size_t i = 0; i < 5; i++) {
		certs[i] = all[(i + 4) % 5]->pc; /* the leaf first */
		ctx[i] = all[i]->pc;
	}
	for (long leaf = -1; leaf < 2; leaf++) {
		assert_int_equal(
		    pki_classify(certs, 5, leaf, ctx, 5, roles1, why1), 0);
		assert_int_equal(
		    pki_classify_memo(certs, 5, leaf, ctx, 5, m, roles2, why2),
		    0);
		for (size_t i = 0; i < 5; i++) {
			assert_int_equal(roles1[i], roles2[i]);
			assert_string_equal(why1[i], why2[i]);
			free(why1[i]);
			free(why2[i]);
		}
	}
	pki_report_free(r1);
	pki_report_free(r2);
	pki_paths_free(paths, npaths);
	pki_sig_memo_free(m);
	built_clear(&b);
	tcert_free(other);
	twin_free(&t);
}

/* The same fields, read from two parses of one DER. */
static void
assert_same_cert(const struct pki_cert *a, const struct pki_cert *b)
{
	assert_int_equal(a->der_len, b->der_len);
	assert_memory_equal(a->der, b->der, a->der_len);
	assert_string_equal(a->sha1, b->sha1);
	assert_string_equal(a->sha256, b->sha256);
	assert_string_equal(a->sha384, b->sha384);
	assert_string_equal(a->subject, b->subject);
	assert_string_equal(a->issuer, b->issuer);
	assert_string_equal(a->serial, b->serial);
	assert_string_equal(a->spki_sha256, b->spki_sha256);
	assert_string_equal(a->sig_algorithm, b->sig_algorithm);
	assert_int_equal(a->is_ca, b->is_ca);
	assert_int_equal(a->self_signed, b->self_signed);
	assert_int_equal(a->not_after, b->not_after);
}

/* CA certificates are parsed once and shared; leaves never are; the kept
 * signature verdicts are per pair; the cache is bounded. */
static void
test_ca_cache(void **state)
{
	/* evicting MANY - 512 >= 512 times moves the CLOCK hand past every
	 * entry: the first filler, never found again, is out */
	enum { MANY = 1100 };
	struct twin_pki t;
	struct tcert *other, **many;
	struct pki_cert *a, *b, *again;

	(void)state;
	twin_make(&t);
	/* a CA: the same object, one more reference, until the last goes */
	a = parse_der(t.inter->der, t.inter->der_len);
	b = parse_der(t.inter->der, t.inter->der_len);
	assert_ptr_equal(a, t.inter->pc);
	assert_ptr_equal(b, t.inter->pc);
	assert_true(a->shared);
	pki_cert_free(a);
	pki_cert_free(b);
	assert_string_equal(t.inter->pc->subject, "CN=Test OV CA");
	/* a self-signed root too */
	a = parse_der(t.ut_self->der, t.ut_self->der_len);
	assert_ptr_equal(a, t.ut_self->pc);
	assert_true(a->self_signed);
	pki_cert_free(a);
	/* a leaf: a new object every time, its caller's alone */
	a = parse_der(t.leaf->der, t.leaf->der_len);
	assert_ptr_not_equal(a, t.leaf->pc);
	assert_false(a->shared);
	assert_false(t.leaf->pc->shared);
	assert_same_cert(a, t.leaf->pc);
	pki_cert_free(a);

	/* verdicts between shared CAs are per pair, asked twice */
	other = mk(&(struct spec){ .cn = "UserTest RSA CA", .key = K_LEAF },
	           true, NULL); /* the issuer's name, another key */
	for (int round = 0; round < 2; round++) {
		assert_true(pki_cert_is_signed_by(t.inter->pc, t.ut_self->pc));
		assert_true(pki_cert_is_signed_by(t.inter->pc, t.ut_cross->pc));
		assert_false(pki_cert_is_signed_by(t.inter->pc, other->pc));
		assert_true(pki_cert_is_signed_by(t.ut_cross->pc, t.aaa->pc));
		assert_false(pki_cert_is_signed_by(t.ut_cross->pc, other->pc));
		assert_true(pki_cert_is_signed_by(other->pc, other->pc));
		assert_true(pki_cert_is_signed_by(t.leaf->pc, t.inter->pc));
		assert_false(pki_cert_is_signed_by(t.leaf->pc, other->pc));
	}

	/* bounded: MANY other CAs push the first ones out; a holder keeps
	 * its object, and a new parse gives the same fields (ECDSA keys: a
	 * thousand signatures in milliseconds) */
	many = calloc(MANY, sizeof(*many));
	assert_non_null(many);
	for (size_t i = 0; i < MANY; i++) {
		char cn[64];

		snprintf(cn, sizeof(cn), "Cache Filler %zu", i);
		many[i] =
		    mk(&(struct spec){ .cn = cn, .key = K_EC }, true, NULL);
	}
	again = parse_der(many[0]->der, many[0]->der_len);
	assert_ptr_not_equal(again, many[0]->pc);
	assert_same_cert(again, many[0]->pc);
	assert_true(pki_cert_is_signed_by(again, many[0]->pc));
	pki_cert_free(again);
	/* the newest ones are still there */
	again = parse_der(many[MANY - 1]->der, many[MANY - 1]->der_len);
	assert_ptr_equal(again, many[MANY - 1]->pc);
	pki_cert_free(again);
	for (size_t i = 0; i < MANY; i++)
		tcert_free(many[i]);
	free(many);
	tcert_free(other);
	twin_free(&t);
}

struct cache_race {
	unsigned char **der;
	size_t *len;
	size_t n;
	unsigned seed;
	int failures;
};

/* Parses every DER of r in a shuffled order, checks what it got and drops
 * it, many times. */
static void *
cache_race_thread(void *arg)
{
	struct cache_race *r = arg;

	for (int round = 0; round < 3; round++) {
		for (size_t k = 0; k < r->n; k++) {
			size_t i = (k * 7 + r->seed + (size_t)round) % r->n;
			struct pki_cert *c = NULL;
			char hex[PKI_SHA256_HEX_LEN + 1];

			if (pki_cert_parse(r->der[i], r->len[i], &c, NULL) !=
			        0 ||
			    pki_sha256_hex(r->der[i], r->len[i], hex) != 0 ||
			    strcmp(c->sha256, hex) != 0 || !c->is_ca ||
			    !c->self_signed || !pki_cert_is_signed_by(c, c))
				r->failures++;
			pki_cert_free(c);
		}
	}
	return NULL;
}

/* Threads parse, check and drop shared CAs while others are evicted
 * (run under ThreadSanitizer too). */
static void
test_ca_cache_threads(void **state)
{
	enum { N = 530, THREADS = 4 }; /* a few more than the cache holds */
	unsigned char *der[N];
	size_t len[N];
	struct cache_race r[THREADS];
	pthread_t th[THREADS];

	(void)state;
	for (size_t i = 0; i < N; i++) {
		char cn[64];
		struct tcert *t;

		snprintf(cn, sizeof(cn), "Race CA %zu", i);
		t = mk(&(struct spec){ .cn = cn, .key = K_EC }, true, NULL);
		der[i] = t->der;
		len[i] = t->der_len;
		t->der = NULL;
		tcert_free(t);
	}
	for (unsigned k = 0; k < THREADS; k++) {
		r[k] = (struct cache_race){ der, len, N, k * 131, 0 };
		assert_int_equal(
		    pthread_create(&th[k], NULL, cache_race_thread, &r[k]), 0);
	}
	for (unsigned k = 0; k < THREADS; k++) {
		assert_int_equal(pthread_join(th[k], NULL), 0);
		assert_int_equal(r[k].failures, 0);
	}
	for (size_t i = 0; i < N; i++)
		free(der[i]);
}

/* Two trusted paths: the SHA-2 root wins when asked to, else the root
 * that expires later. */
static void
test_build_prefer_sha2_root(void **state)
{
	struct tcert *old_root, *new_root, *int_old, *int_new, *leaf;
	struct pki_amt_root e[2];
	struct pki_verify_opts o;
	struct pki_report *r = NULL;
	struct built b;

	(void)state;
	old_root = mk(&(struct spec){ .cn = "Old SHA1 Root",
	                              .key = K_ROOT2,
	                              .sha1 = true,
	                              .na_days = 3000 },
	              true, NULL);
	new_root = mk(&(struct spec){ .cn = "New SHA2 Root",
	                              .key = K_ROOT,
	                              .na_days = 2000 },
	              true, NULL);
	int_old = mk(&(struct spec){ .cn = "Issuing CA", .key = K_INT }, true,
	             old_root);
	int_new = mk(&(struct spec){ .cn = "Issuing CA", .key = K_INT }, true,
	             new_root);
	leaf = mk(&(struct spec){ .cn = "amt.example.com", .key = K_LEAF },
	          false, int_new);
	e[0] = entry_for(old_root, "Old", "sha1", true);
	e[1] = entry_for(new_root, "New", "sha256", true);

	assert_int_equal(
	    build(&b, leaf,
	          (struct tcert *[]){ int_old, old_root, int_new, new_root }, 4,
	          e, 2, true),
	    0);
	assert_int_equal(b.npaths, 2);
	assert_true(path_is(&b.paths[0],
	                    (struct tcert *[]){ leaf, int_new, new_root }, 3));
	assert_true(b.paths[0].amt_trusted);
	assert_false(b.paths[0].root_sha1_signed);
	assert_ptr_equal(b.paths[0].amt_root, &e[1]);
	assert_true(b.paths[1].amt_trusted);
	assert_true(b.paths[1].root_sha1_signed);
	assert_string_equal(b.paths[1].amt_hash_alg, "sha1");
	assert_non_null(strstr(b.paths[1].why_not_chosen,
	                       "ends at Old SHA1 Root, which is signed with "
	                       "RSA-SHA1"));
	o = default_opts(leaf);
	o.amt_max = 16;
	assert_int_equal(pki_verify_path(&b.paths[0], &o, &r), 0);
	assert_int_equal(find_check(r, "sha1")->status, PKI_PASS);
	pki_report_free(r);
	assert_int_equal(pki_verify_path(&b.paths[1], &o, &r), 0);
	assert_int_equal(find_check(r, "sha1")->status, PKI_FAIL);
	assert_int_equal(find_check(r, "root_trusted")->status, PKI_PASS);
	pki_report_free(r);
	built_clear(&b);

	/* Not preferring SHA-2: the later-expiring (SHA-1) root wins. */
	assert_int_equal(
	    build(&b, leaf,
	          (struct tcert *[]){ int_old, old_root, int_new, new_root }, 4,
	          e, 2, false),
	    0);
	assert_int_equal(b.npaths, 2);
	assert_true(path_is(&b.paths[0],
	                    (struct tcert *[]){ leaf, int_old, old_root }, 3));
	assert_non_null(strstr(b.paths[1].why_not_chosen, "expires earlier"));
	built_clear(&b);

	tcert_free(leaf);
	tcert_free(int_new);
	tcert_free(int_old);
	tcert_free(new_root);
	tcert_free(old_root);
}

/* 9 x 9 twin issuers: 81 paths, over the limit of 64. */
static void
test_build_too_many_paths(void **state)
{
	struct tcert *c, *a[9], *bb[9], *leaf, *all[19];
	struct pki_path *paths = (struct pki_path *)(uintptr_t)0x1;
	size_t npaths = 77;
	struct built b;
	int ret;

	(void)state;
	c = mk(&(struct spec){ .cn = "Top", .key = K_ROOT }, true, NULL);
	for (int i = 0; i < 9; i++)
		bb[i] = mk(&(struct spec){ .cn = "B", .key = K_INT2 }, true, c);
	for (int i = 0; i < 9; i++)
		a[i] =
		    mk(&(struct spec){ .cn = "A", .key = K_INT }, true, bb[0]);
	leaf = mk(&(struct spec){ .cn = "amt.example.com", .key = K_LEAF },
	          false, a[0]);
	for (int i = 0; i < 9; i++) {
		all[i] = a[i];
		all[9 + i] = bb[i];
	}
	all[18] = c;
	ret = build(&b, leaf, all, 19, NULL, 0, false);
	assert_int_equal(ret, ERR_TOO_LARGE);
	/* Out-params untouched on error. */
	ret = pki_chain_build(&b.leaf, b.cands, 19, NULL, 0, false, &paths,
	                      &npaths);
	assert_int_equal(ret, ERR_TOO_LARGE);
	assert_ptr_equal(paths, (struct pki_path *)(uintptr_t)0x1);
	assert_int_equal(npaths, 77);

	/* 7 x 9 = 63 complete paths: within the limit. */
	ret = build(&b, leaf, all + 2, 17, NULL, 0, false);
	assert_int_equal(ret, 0);
	assert_int_equal(b.npaths, 63);
	for (size_t i = 0; i < b.npaths; i++) {
		assert_int_equal(b.paths[i].len, 4);
		assert_true(b.paths[i].complete);
		assert_true((i == 0) == (b.paths[i].why_not_chosen == NULL));
	}
	built_clear(&b);

	assert_int_equal(
	    pki_chain_build(NULL, NULL, 0, NULL, 0, false, &paths, &npaths),
	    ERR_INVALID);
	tcert_free(leaf);
	for (int i = 0; i < 9; i++) {
		tcert_free(a[i]);
		tcert_free(bb[i]);
	}
	tcert_free(c);
}

/* ---- the real Sectigo / USERTrust / AAA certificates ------------------- */

static struct pki_cert *
load_public(const char *file)
{
	const char *src = getenv("AMTCERTD_SRC");
	char path[4096];
	unsigned char buf[16384];
	gnutls_datum_t in, der = { NULL, 0 };
	struct pki_cert *c;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/fixtures/public-ca/%s",
	         src && src[0] ? src : ".", file);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (set AMTCERTD_SRC to the repo root)",
		         path);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 0 && n < sizeof(buf));
	in.data = buf;
	in.size = (unsigned)n;
	assert_int_equal(gnutls_pem_base64_decode2("CERTIFICATE", &in, &der),
	                 0);
	c = parse_der(der.data, der.size);
	gnutls_free(der.data);
	return c;
}

static void
test_public_sectigo_chain(void **state)
{
	struct pki_cert *ov, *pro, *aaa, *ut_cross, *ut_self;
	struct pki_candidate leaf, cands[4];
	struct pki_amt_root e[2];
	struct pki_path *paths = NULL;
	size_t npaths = 0;
	struct pki_verify_opts o;
	struct pki_report *r = NULL;

	(void)state;
	ov = load_public("sectigo-rsa-ov-secure-server-ca.pem");
	pro = load_public("sectigo-rsa-pro-series-secure-server-ca.pem");
	aaa = load_public("aaa-certificate-services.pem");
	ut_cross = load_public("usertrust-rsa-ca-cross-signed-by-aaa.pem");
	ut_self = load_public("usertrust-rsa-ca-self-signed.pem");

	assert_string_equal(aaa->sha256, "d7a7a0fb5d7e2731d771e9484ebcdef7"
	                                 "1d5f0c3e0a2948782bc83ee0ea699ef4");
	assert_string_equal(aaa->sha1,
	                    "d1eb23a46d17d68fd92564c2f1f1601764d8e349");
	assert_string_equal(aaa->common_name, "AAA Certificate Services");
	assert_true(aaa->self_signed);
	assert_true(aaa->sig_sha1);
	assert_true(ut_self->self_signed);
	assert_false(ut_self->sig_sha1);
	assert_false(ut_cross->self_issued);
	assert_false(ut_cross->self_signed);
	assert_string_equal(ut_cross->spki_sha256, ut_self->spki_sha256);
	assert_string_equal(ut_cross->ski, ut_self->ski);
	assert_true(ov->is_ca);
	assert_true(ov->has_basic_constraints);
	assert_string_equal(ov->common_name,
	                    "Sectigo RSA Organization Validation Secure "
	                    "Server CA");
	assert_string_equal(ov->issuer,
	                    "CN=USERTrust RSA Certification Authority,"
	                    "O=The USERTRUST Network,L=Jersey City,ST=New "
	                    "Jersey,C=US");
	assert_true(ov->eku_server_auth);
	assert_true(pki_cert_is_signed_by(ov, ut_cross));
	assert_true(pki_cert_is_signed_by(ov, ut_self));
	assert_true(pki_cert_is_signed_by(ut_cross, aaa));
	assert_true(pki_cert_is_signed_by(pro, aaa));
	assert_false(pki_cert_is_signed_by(ov, aaa));

	leaf = (struct pki_candidate){ ov, PKI_ORIGIN_UPLOAD };
	cands[0] = (struct pki_candidate){ ut_self, PKI_ORIGIN_SYSTEM };
	cands[1] = (struct pki_candidate){ pro, PKI_ORIGIN_POOL };
	cands[2] = (struct pki_candidate){ aaa, PKI_ORIGIN_SYSTEM };
	cands[3] = (struct pki_candidate){ ut_cross, PKI_ORIGIN_UPLOAD };
	memset(e, 0, sizeof(e));
	e[0].name = "DigiCert Global Root G2";
	e[0].sha256 = "cb3ccbb76031e5e0138f8dd39a23f9de"
	              "47ffc35e43c1144cea27d46a5ab1cb5f";
	e[0].enabled = true;
	e[1].name = "Comodo AAA Certificate Services";
	e[1].sha256 = "d7a7a0fb5d7e2731d771e9484ebcdef7"
	              "1d5f0c3e0a2948782bc83ee0ea699ef4";
	e[1].enabled = true;

	assert_int_equal(
	    pki_chain_build(&leaf, cands, 4, e, 2, true, &paths, &npaths), 0);
	assert_int_equal(npaths, 2);
	assert_int_equal(paths[0].len, 3);
	assert_ptr_equal(paths[0].certs[0]->cert, ov);
	assert_ptr_equal(paths[0].certs[1]->cert, ut_cross);
	assert_ptr_equal(paths[0].certs[2]->cert, aaa);
	assert_true(paths[0].complete);
	assert_true(paths[0].amt_trusted);
	assert_ptr_equal(paths[0].amt_root, &e[1]);
	assert_string_equal(paths[0].amt_hash_alg, "sha256");
	assert_true(paths[0].root_sha1_signed);
	assert_null(paths[0].why_not_chosen);

	assert_int_equal(paths[1].len, 2);
	assert_ptr_equal(paths[1].certs[1]->cert, ut_self);
	assert_true(paths[1].complete);
	assert_false(paths[1].amt_trusted);
	assert_non_null(paths[1].why_not_chosen);
	assert_non_null(strstr(paths[1].why_not_chosen,
	                       "self-signed USERTrust RSA Certification "
	                       "Authority, which is not in the AMT list"));
	assert_non_null(
	    strstr(paths[1].why_not_chosen, "AAA Certificate Services"));

	/* The SHA-1 AAA root: a warning by default, a failure for AMT 16. */
	memset(&o, 0, sizeof(o));
	o.at = NOW;
	assert_int_equal(pki_verify_path(&paths[0], &o, &r), 0);
	assert_int_equal(find_check(r, "sha1")->status, PKI_WARN);
	assert_int_equal(find_check(r, "root_trusted")->status, PKI_PASS);
	assert_non_null(strstr(find_check(r, "root_trusted")->message,
	                       "Comodo AAA Certificate Services"));
	assert_int_equal(find_check(r, "validity")->status, PKI_PASS);
	assert_int_equal(find_check(r, "signatures")->status, PKI_PASS);
	assert_int_equal(find_check(r, "issuer_ca")->status, PKI_PASS);
	pki_report_free(r);
	o.amt_max = 16;
	assert_int_equal(pki_verify_path(&paths[0], &o, &r), 0);
	assert_int_equal(find_check(r, "sha1")->status, PKI_FAIL);
	pki_report_free(r);
	pki_paths_free(paths, npaths);

	pki_cert_free(ut_self);
	pki_cert_free(ut_cross);
	pki_cert_free(aaa);
	pki_cert_free(pro);
	pki_cert_free(ov);
}

/*
 * data/bridges/ (issue 11): every row of bridges.tsv names a certificate
 * the binary carries whose SHA-256, key and SKI are the recorded ones and
 * whose signature verifies under the recorded root, which the binary
 * carries too, is self-signed and is an entry of data/amt-roots.tsv.
 */
static struct pki_cert *
embedded_bridge(const char *file)
{
	const unsigned char *pem = NULL;
	size_t len = 0;
	gnutls_datum_t in, der = { NULL, 0 };
	struct pki_cert *c;

	for (size_t i = 0; embedded_bridges[i].path; i++) {
		if (embedded_bridges[i].path[0] == '/' &&
		    strcmp(embedded_bridges[i].path + 1, file) == 0) {
			pem = embedded_bridges[i].data;
			len = embedded_bridges[i].len;
		}
	}
	if (!pem)
		fail_msg("data/bridges/%s is not embedded", file);
	in.data = (unsigned char *)(uintptr_t)pem;
	in.size = (unsigned)len;
	assert_int_equal(gnutls_pem_base64_decode2("CERTIFICATE", &in, &der),
	                 0);
	c = parse_der(der.data, der.size);
	gnutls_free(der.data);
	return c;
}

/* The embedded root whose SHA-256 is sha256 (a fresh parse), or NULL. */
static struct pki_cert *
embedded_root(const char *sha256)
{
	for (size_t i = 0; embedded_bridges[i].path; i++) {
		struct pki_cert *c;

		if (strncmp(embedded_bridges[i].path, "/roots/", 7) != 0)
			continue;
		c = embedded_bridge(embedded_bridges[i].path + 1);
		if (strcmp(c->sha256, sha256) == 0)
			return c;
		pki_cert_free(c);
	}
	return NULL;
}

static void
test_bridges_verify(void **state)
{
	char *tsv = strndup((const char *)embedded_bridges_tsv,
	                    embedded_bridges_tsv_len);
	struct pki_amt_hash_entry *amt = NULL;
	size_t namt = 0, rows = 0;
	const char *why = NULL;
	bool usertrust = false;
	char *save = NULL;

	(void)state;
	assert_non_null(tsv);
	assert_int_equal(
	    pki_amt_list_parse_tsv((const char *)embedded_amt_roots,
	                           embedded_amt_roots_len, &amt, &namt, &why),
	    0);
	for (char *line = strtok_r(tsv, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *col[9], *p = line;
		struct pki_cert *b, *root;
		bool listed = false;
		size_t n = 0;

		if (line[0] == '#' || strncmp(line, "file\t", 5) == 0)
			continue;
		while (n < 9 && p) {
			col[n++] = p;
			p = strchr(p, '\t');
			if (p)
				*p++ = '\0';
		}
		assert_int_equal(n, 9);
		b = embedded_bridge(col[0]);
		root = embedded_root(col[6]);
		if (!root)
			fail_msg("%s: its root %s is not in data/bridges/roots",
			         col[0], col[6]);
		assert_string_equal(b->sha256, col[3]);
		assert_string_equal(b->spki_sha256, col[4]);
		assert_non_null(b->ski);
		assert_string_equal(b->ski, col[5]);
		assert_string_equal(b->common_name, col[1]);
		assert_true(b->is_ca);
		assert_false(b->self_signed);
		assert_true(root->self_signed);
		assert_true(pki_cert_is_signed_by(b, root));
		assert_non_null(strstr(b->issuer, col[2]));
		for (size_t i = 0; i < namt; i++)
			listed = listed || (amt[i].sha256 &&
			                    strcmp(amt[i].sha256, col[6]) == 0);
		if (!listed)
			fail_msg("%s: root %s is not in data/amt-roots.tsv",
			         col[0], col[6]);
		usertrust =
		    usertrust ||
		    strcmp(col[3], "68b9c761219a5b1f0131784474665db6"
		                   "1bbdb109e00f05ca9f74244ee5f5f52b") == 0;
		pki_cert_free(b);
		pki_cert_free(root);
		rows++;
	}
	assert_true(rows >= 1);
	assert_true(usertrust); /* USERTrust RSA by AAA, at least */
	pki_amt_hash_entries_free(amt, namt);
	free(tsv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha_hex),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_names_escaping),
		cmocka_unit_test(test_parse_sha1_and_ecdsa),
		cmocka_unit_test(test_parse_spki_matches_csr),
		cmocka_unit_test(test_parse_rejects_garbage),
		cmocka_unit_test(test_parse_size_limit),
		cmocka_unit_test(test_parse_mutations),
		cmocka_unit_test(test_cert_to_pem),
		cmocka_unit_test(test_is_signed_by),
		cmocka_unit_test(test_is_signed_by_aki_mismatch),
		cmocka_unit_test(test_checks_table),
		cmocka_unit_test(test_report_all_pass),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_signatures_fail),
		cmocka_unit_test(test_chain_length),
		cmocka_unit_test(test_build_order_and_extras),
		cmocka_unit_test(test_build_missing_intermediate),
		cmocka_unit_test(test_build_cross_signed_twin),
		cmocka_unit_test(test_sig_memo),
		cmocka_unit_test(test_ca_cache),
		cmocka_unit_test(test_ca_cache_threads),
		cmocka_unit_test(test_build_prefer_sha2_root),
		cmocka_unit_test(test_build_too_many_paths),
		cmocka_unit_test(test_public_sectigo_chain),
		cmocka_unit_test(test_bridges_verify),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
