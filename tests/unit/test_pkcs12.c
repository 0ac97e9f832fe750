/*
 * test_pkcs12.c: unit tests of the PFX export (pki/pkcs12.c): OpenSSL's
 * libcrypto writes, GnuTLS (pki_p12_check()) reads.
 *
 * A root -> intermediate -> leaf chain is made at test time with GnuTLS
 * (two RSA 2048 keys: one for both CAs, one for the leaf). The group setup
 * makes one PFX per profile at the default iteration count and the tests
 * share them; other counts (1,000, 100,000, and 1,000,000 once: the slow
 * one) are exported where they are tested. The layouts the check must
 * refuse are built directly with GnuTLS (with its own build-time count)
 * or edited from ours. The PFX are also read by tools we did not write:
 * openssl pkcs12 and certtool --p12-info.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "pki/pki.h"

#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

/* Only to re-make a MAC over an edited PFX (GnuTLS would use its own
 * iteration count). */
#include <openssl/evp.h>
#include <openssl/pkcs12.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* No single quote: it is put between single quotes on command lines. */
#define PASSWORD  "Amt p12 test-pw!"
#define LEAF_CN   "amt.example.com"
#define NICE_NAME "AMT Provisioning (test)"

enum { LEAF = 0, INTER = 1, ROOT = 2, NCHAIN = 3 };

static struct pki_secret *const SECRET_SENTINEL =
    (struct pki_secret *)(uintptr_t)0x1;
static const char WHY_SENTINEL[] = "untouched";

static gnutls_x509_privkey_t g_ca_key;  /* root and intermediate */
static struct pki_secret *g_leaf_key;   /* PKCS#8 DER */
static struct pki_secret *g_other_key;  /* g_ca_key as PKCS#8 DER */
static struct pki_cert *g_cert[NCHAIN]; /* leaf, intermediate, root */
static const struct pki_cert *g_chain[NCHAIN];
/* [PKI_P12_COMPAT] exported with the leaf's CN as friendlyName (NULL),
 * [PKI_P12_MODERN] with NICE_NAME; both PKI_P12_ITER_DEFAULT. */
static struct pki_secret *g_pfx[2];
static double g_export_seconds[2];
static char g_tmp[256];

static const char *const PROFILE_NAME[2] = { "compat", "modern" };

/* ---- helpers ---------------------------------------------------------- */

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct pki_secret *
secret_from(const void *data, size_t len)
{
	struct pki_secret *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->data = malloc(len ? len : 1);
	assert_non_null(s->data);
	if (len)
		memcpy(s->data, data, len);
	s->len = len;
	return s;
}

struct text {
	char *s;
	size_t len;
};

static void
text_free(struct text *t)
{
	free(t->s);
	t->s = NULL;
	t->len = 0;
}

/* Runs cmd through the shell; its stdout in *out. Returns the exit code
 * (-1 when it did not run or was killed). */
static int
run(const char *cmd, struct text *out)
{
	char buf[4096];
	FILE *f;
	size_t n;
	int st;

	out->s = calloc(1, 1);
	out->len = 0;
	assert_non_null(out->s);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		char *p = realloc(out->s, out->len + n + 1);

		assert_non_null(p);
		memcpy(p + out->len, buf, n);
		out->s = p;
		out->len += n;
		out->s[out->len] = '\0';
	}
	st = pclose(f);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static size_t
count_of(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (const char *p = strstr(hay, needle); p;
	     p = strstr(p + len, needle))
		n++;
	return n;
}

/* Writes a PFX to g_tmp/name; returns the path (static buffer). */
static const char *
write_tmp(const char *name, const struct pki_secret *s)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", g_tmp, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(s->data, 1, s->len, f), s->len);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* ---- fixtures --------------------------------------------------------- */

static int
make_cert(const char *cn, gnutls_x509_privkey_t key, gnutls_x509_crt_t issuer,
          gnutls_x509_privkey_t issuer_key, bool ca, unsigned char serial,
          gnutls_x509_crt_t *out)
{
	unsigned char ser[2] = { 0x01, serial };
	gnutls_x509_crt_t crt = NULL;
	int ret;

	ret = gnutls_x509_crt_init(&crt);
	if (ret < 0)
		return ret;
	if ((ret = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (ret = gnutls_x509_crt_set_dn_by_oid(
	         crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
	         (unsigned)strlen(cn))) < 0 ||
	    (ret = gnutls_x509_crt_set_serial(crt, ser, sizeof(ser))) < 0 ||
	    (ret = gnutls_x509_crt_set_activation_time(crt, 1700000000)) < 0 ||
	    (ret = gnutls_x509_crt_set_expiration_time(crt, 2000000000)) < 0 ||
	    (ret = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (ret = gnutls_x509_crt_set_basic_constraints(crt, ca ? 1 : 0, -1)) <
	        0 ||
	    (ret = gnutls_x509_crt_set_key_usage(
	         crt, ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
	                 : GNUTLS_KEY_DIGITAL_SIGNATURE |
	                       GNUTLS_KEY_KEY_ENCIPHERMENT)) < 0 ||
	    (ret = gnutls_x509_crt_sign2(crt, issuer ? issuer : crt,
	                                 issuer_key ? issuer_key : key,
	                                 GNUTLS_DIG_SHA256, 0)) < 0) {
		gnutls_x509_crt_deinit(crt);
		return ret;
	}
	*out = crt;
	return 0;
}

static int
parse_crt(gnutls_x509_crt_t crt, struct pki_cert **out)
{
	gnutls_datum_t d = { NULL, 0 };
	const char *why = NULL;
	int ret;

	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d) < 0)
		return -1;
	ret = pki_cert_parse(d.data, d.size, out, &why);
	gnutls_free(d.data);
	return ret;
}

static int
export_timed(enum pki_p12_profile p, const char *name)
{
	double t0 = now_seconds();
	int ret = pki_p12_export(g_leaf_key, g_chain, NCHAIN, name, PASSWORD, p,
	                         PKI_P12_ITER_DEFAULT, &g_pfx[p]);

	g_export_seconds[p] = now_seconds() - t0;
	return ret;
}

static int
group_setup(void **state)
{
	gnutls_x509_privkey_t leaf_key = NULL;
	gnutls_x509_crt_t crt[NCHAIN] = { NULL, NULL, NULL };
	gnutls_datum_t d = { NULL, 0 };
	const char *base = getenv("AMTCERTD_TEST_TMP");
	int ret = -1;

	(void)state;
	if (pki_init() != 0 || pki_key_generate_rsa(2048, &g_leaf_key) != 0)
		return -1;
	if (gnutls_x509_privkey_init(&g_ca_key) < 0 ||
	    gnutls_x509_privkey_generate(g_ca_key, GNUTLS_PK_RSA, 2048, 0) <
	        0 ||
	    gnutls_x509_privkey_export2_pkcs8(g_ca_key, GNUTLS_X509_FMT_DER,
	                                      NULL, GNUTLS_PKCS_PLAIN, &d) < 0)
		return -1;
	g_other_key = secret_from(d.data, d.size);
	gnutls_free(d.data);
	d.data = g_leaf_key->data;
	d.size = (unsigned)g_leaf_key->len;
	if (gnutls_x509_privkey_init(&leaf_key) < 0 ||
	    gnutls_x509_privkey_import_pkcs8(leaf_key, &d, GNUTLS_X509_FMT_DER,
	                                     NULL, GNUTLS_PKCS_PLAIN) < 0)
		goto cleanup;
	if (make_cert("Test P12 Root", g_ca_key, NULL, NULL, true, 1,
	              &crt[ROOT]) < 0 ||
	    make_cert("Test P12 Intermediate", g_ca_key, crt[ROOT], g_ca_key,
	              true, 2, &crt[INTER]) < 0 ||
	    make_cert(LEAF_CN, leaf_key, crt[INTER], g_ca_key, false, 3,
	              &crt[LEAF]) < 0)
		goto cleanup;
	for (int i = 0; i < NCHAIN; i++) {
		if (parse_crt(crt[i], &g_cert[i]) != 0)
			goto cleanup;
		g_chain[i] = g_cert[i];
	}
	if (export_timed(PKI_P12_COMPAT, NULL) != 0 ||
	    export_timed(PKI_P12_MODERN, NICE_NAME) != 0)
		goto cleanup;

	if (!base || !*base)
		base = "/tmp";
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		goto cleanup;
	snprintf(g_tmp, sizeof(g_tmp), "%s/test_pkcs12.XXXXXX", base);
	if (!mkdtemp(g_tmp))
		goto cleanup;
	ret = 0;
cleanup:
	for (int i = 0; i < NCHAIN; i++) {
		if (crt[i])
			gnutls_x509_crt_deinit(crt[i]);
	}
	gnutls_x509_privkey_deinit(leaf_key);
	return ret;
}

static int
group_teardown(void **state)
{
	static const char *const files[] = { "compat.p12", "modern.p12",
		                             "count.p12" };
	char path[600];

	(void)state;
	if (g_tmp[0]) {
		for (size_t i = 0; i < ARRAY_LEN(files); i++) {
			snprintf(path, sizeof(path), "%s/%s", g_tmp, files[i]);
			unlink(path);
		}
		rmdir(g_tmp);
	}
	for (int i = 0; i < 2; i++)
		pki_secret_free(g_pfx[i]);
	for (int i = 0; i < NCHAIN; i++)
		pki_cert_free(g_cert[i]);
	pki_secret_free(g_leaf_key);
	pki_secret_free(g_other_key);
	gnutls_x509_privkey_deinit(g_ca_key);
	pki_deinit();
	return 0;
}

/* ---- password rule ---------------------------------------------------- */

static void
test_password_rule(void **state)
{
	static const struct {
		const char *pw;
		bool ok;
	} cases[] = {
		{ "1234567", false }, /* 7 characters */
		{ "12345678", true }, /* exactly 8 */
		{ "        ", true }, /* spaces are printable */
		{ "~!@#$%^&*()_+{}|:\"<>?", true },
		{ "0123456789012345678901234567890123456789012345678901234567"
		  "890123",
		  true }, /* exactly 64 */
		{ "0123456789012345678901234567890123456789012345678901234567"
		  "8901234",
		  false },                      /* 65 */
		{ "p\xc3\xa4sswort12", false }, /* UTF-8 a-umlaut */
		{ "abcd\tefgh", false },        /* control character */
		{ "abcdefgh\x7f", false },      /* DEL */
		{ "abcdefgh\r\n", false },
		{ "", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *why = pki_p12_password_problem(cases[i].pw);

		if (cases[i].ok != (why == NULL))
			fail_msg("case %zu (\"%s\"): %s", i, cases[i].pw,
			         why ? why : "accepted");
	}
	assert_non_null(pki_p12_password_problem(NULL));
	assert_non_null(strstr(pki_p12_password_problem("1234567"), "8"));
	assert_non_null(
	    strstr(pki_p12_password_problem("abcd\tefgh"), "ASCII"));
}

/* ---- export: refusals (all before any key derivation: fast) ----------- */

/* pki_p12_export() at the default count, into *out. */
static int
export_default(const struct pki_secret *key,
               const struct pki_cert *const *certs, size_t n, const char *name,
               const char *password, enum pki_p12_profile p,
               struct pki_secret **out)
{
	return pki_p12_export(key, certs, n, name, password, p,
	                      PKI_P12_ITER_DEFAULT, out);
}

static void
test_export_refuses(void **state)
{
	const struct pki_cert *wrong_order[NCHAIN] = { g_cert[INTER],
		                                       g_cert[LEAF],
		                                       g_cert[ROOT] };
	const struct pki_cert *with_null[NCHAIN] = { g_cert[LEAF], NULL,
		                                     g_cert[ROOT] };
	const struct pki_cert *many[PKI_P12_MAX_CERTS + 1];
	static const unsigned bad_iter[] = {
		0, 1, 999, 1000001, 2000000000u, 4294967295u
	};
	unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	struct pki_secret bad_key = { junk, sizeof(junk) };
	struct pki_secret *out = SECRET_SENTINEL;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(many); i++)
		many[i] = g_cert[i == 0 ? LEAF : ROOT];

	/* The key must be the leaf's. */
	assert_int_equal(export_default(g_other_key, g_chain, NCHAIN, NULL,
	                                PASSWORD, PKI_P12_COMPAT, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(g_leaf_key, wrong_order, NCHAIN, NULL,
	                                PASSWORD, PKI_P12_MODERN, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(&bad_key, g_chain, NCHAIN, NULL,
	                                PASSWORD, PKI_P12_MODERN, &out),
	                 ERR_INVALID);
	/* Passwords: the rule applies. */
	assert_int_equal(export_default(g_leaf_key, g_chain, NCHAIN, NULL,
	                                "1234567", PKI_P12_COMPAT, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(g_leaf_key, g_chain, NCHAIN, NULL, NULL,
	                                PKI_P12_COMPAT, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(g_leaf_key, g_chain, NCHAIN, NULL,
	                                "p\xc3\xa4sswort12", PKI_P12_MODERN,
	                                &out),
	                 ERR_INVALID);
	/* Friendly names: printable ASCII only. */
	assert_int_equal(export_default(g_leaf_key, g_chain, NCHAIN, "a\nb",
	                                PASSWORD, PKI_P12_MODERN, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(g_leaf_key, g_chain, NCHAIN, "a\xc3",
	                                PASSWORD, PKI_P12_MODERN, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(g_leaf_key, g_chain, NCHAIN,
	                                "\xf0\x9f\x94\x91 key", PASSWORD,
	                                PKI_P12_MODERN, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(g_leaf_key, g_chain, NCHAIN,
	                                "Z\xc3\xbcrich AMT", PASSWORD,
	                                PKI_P12_MODERN, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(g_leaf_key, g_chain, NCHAIN, "",
	                                PASSWORD, PKI_P12_MODERN, &out),
	                 ERR_INVALID);
	/* Iteration counts outside 1000..1000000, either profile. */
	for (size_t i = 0; i < ARRAY_LEN(bad_iter); i++) {
		for (int p = 0; p < 2; p++) {
			if (pki_p12_export(g_leaf_key, g_chain, NCHAIN, NULL,
			                   PASSWORD, (enum pki_p12_profile)p,
			                   bad_iter[i], &out) != ERR_INVALID)
				fail_msg("%s: %u iterations accepted",
				         PROFILE_NAME[p], bad_iter[i]);
		}
		assert_non_null(pki_p12_iterations_problem(bad_iter[i]));
	}
	assert_null(pki_p12_iterations_problem(PKI_P12_ITER_MIN));
	assert_null(pki_p12_iterations_problem(PKI_P12_ITER_DEFAULT));
	assert_null(pki_p12_iterations_problem(PKI_P12_ITER_MAX));
	assert_int_equal(PKI_P12_ITER_DEFAULT, 2048); /* PKCS12_DEFAULT_ITER */
	assert_int_equal(PKI_P12_ITER_DEFAULT, PKCS12_DEFAULT_ITER);
	/* Arguments. */
	assert_int_equal(export_default(g_leaf_key, g_chain, 0, NULL, PASSWORD,
	                                PKI_P12_MODERN, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(g_leaf_key, with_null, NCHAIN, NULL,
	                                PASSWORD, PKI_P12_MODERN, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(g_leaf_key, many, ARRAY_LEN(many), NULL,
	                                PASSWORD, PKI_P12_MODERN, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(g_leaf_key, g_chain, NCHAIN, NULL,
	                                PASSWORD, (enum pki_p12_profile)7,
	                                &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(NULL, g_chain, NCHAIN, NULL, PASSWORD,
	                                PKI_P12_MODERN, &out),
	                 ERR_INVALID);
	assert_int_equal(export_default(g_leaf_key, g_chain, NCHAIN, NULL,
	                                PASSWORD, PKI_P12_MODERN, NULL),
	                 ERR_INVALID);
	assert_ptr_equal(out, SECRET_SENTINEL);
}

/* ---- check ------------------------------------------------------------ */

static void
test_check_passes(void **state)
{
	(void)state;
	for (int p = 0; p < 2; p++) {
		const char *why = WHY_SENTINEL;
		double t0 = now_seconds();
		int ret = pki_p12_check(g_pfx[p], PASSWORD, g_chain, NCHAIN,
		                        (enum pki_p12_profile)p,
		                        PKI_P12_ITER_DEFAULT, &why);

		if (ret != 0)
			fail_msg("%s: %d %s", PROFILE_NAME[p], ret, why);
		assert_ptr_equal(why, WHY_SENTINEL);
		print_message("%s: export %.3f s, check %.3f s, %zu bytes\n",
		              PROFILE_NAME[p], g_export_seconds[p],
		              now_seconds() - t0, g_pfx[p]->len);
	}
}

/* Expects ERR_INVALID and a reason containing want. */
static void
expect_refused_iter(const struct pki_secret *pfx, const char *password,
                    const struct pki_cert *const *certs, size_t n,
                    enum pki_p12_profile p, unsigned iter, const char *want)
{
	const char *why = NULL;
	int ret = pki_p12_check(pfx, password, certs, n, p, iter, &why);

	if (ret != ERR_INVALID || !why || !strstr(why, want))
		fail_msg("want ERR_INVALID \"...%s...\", got %d \"%s\"", want,
		         ret, why ? why : "(null)");
}

/* The same at the default count. */
static void
expect_refused(const struct pki_secret *pfx, const char *password,
               const struct pki_cert *const *certs, size_t n,
               enum pki_p12_profile p, const char *want)
{
	expect_refused_iter(pfx, password, certs, n, p, PKI_P12_ITER_DEFAULT,
	                    want);
}

/* The same at the MAC's own count (for a PFX GnuTLS wrote). */
static void
expect_refused_own_count(const struct pki_secret *pfx, const char *password,
                         const struct pki_cert *const *certs, size_t n,
                         enum pki_p12_profile p, const char *want)
{
	unsigned iter = 0;

	assert_int_equal(pki_p12_mac_iterations(pfx, &iter), 0);
	expect_refused_iter(pfx, password, certs, n, p, iter, want);
}

static void
test_check_wrong_password(void **state)
{
	(void)state;
	expect_refused(g_pfx[PKI_P12_COMPAT], "Amt p12 test-pw?", g_chain,
	               NCHAIN, PKI_P12_COMPAT, "MAC does not verify");
	expect_refused(g_pfx[PKI_P12_MODERN], "amt p12 test-pw!", g_chain,
	               NCHAIN, PKI_P12_MODERN, "MAC does not verify");
	expect_refused(g_pfx[PKI_P12_MODERN], "short", g_chain, NCHAIN,
	               PKI_P12_MODERN, "at least 8");
}

static void
test_check_different_certs(void **state)
{
	const struct pki_cert *swapped[NCHAIN] = { g_cert[LEAF], g_cert[ROOT],
		                                   g_cert[INTER] };
	const struct pki_cert *other_leaf[NCHAIN] = { g_cert[INTER],
		                                      g_cert[LEAF],
		                                      g_cert[ROOT] };

	(void)state;
	expect_refused(g_pfx[PKI_P12_COMPAT], PASSWORD, swapped, NCHAIN,
	               PKI_P12_COMPAT, "out of order");
	expect_refused(g_pfx[PKI_P12_MODERN], PASSWORD, other_leaf, NCHAIN,
	               PKI_P12_MODERN, "not the leaf");
	expect_refused(g_pfx[PKI_P12_MODERN], PASSWORD, g_chain, NCHAIN - 1,
	               PKI_P12_MODERN, "number of certificates");
}

static void
test_check_wrong_profile(void **state)
{
	(void)state;
	expect_refused(g_pfx[PKI_P12_COMPAT], PASSWORD, g_chain, NCHAIN,
	               PKI_P12_MODERN, "not encrypted with PBES2");
	expect_refused(g_pfx[PKI_P12_MODERN], PASSWORD, g_chain, NCHAIN,
	               PKI_P12_COMPAT, "pbeWithSHAAnd3-KeyTripleDES-CBC");
}

static void
test_check_der_framing(void **state)
{
	const struct pki_secret *pfx = g_pfx[PKI_P12_MODERN];
	struct pki_secret *longer, *shorter;
	unsigned iter = 12345;

	(void)state;
	longer = secret_from(pfx->data, pfx->len);
	longer->data = realloc(longer->data, pfx->len + 1);
	assert_non_null(longer->data);
	longer->data[longer->len++] = 0;
	expect_refused(longer, PASSWORD, g_chain, NCHAIN, PKI_P12_MODERN,
	               "bytes after its DER");
	shorter = secret_from(pfx->data, pfx->len - 1);
	expect_refused(shorter, PASSWORD, g_chain, NCHAIN, PKI_P12_MODERN,
	               "not a DER SEQUENCE");
	assert_int_equal(pki_p12_mac_iterations(shorter, &iter), ERR_INVALID);
	assert_int_equal(iter, 12345);
	pki_secret_free(longer);
	pki_secret_free(shorter);
}

/* PFX the check must refuse, built with GnuTLS directly. */
enum layout {
	/* one ContentInfo per certificate (what certtool --to-p12 and
	 * naive API use write), the key in a plain keyBag */
	LAYOUT_NAIVE,
	/* ours, but for: */
	LAYOUT_PLAIN_KEY,   /* the key in a plain keyBag */
	LAYOUT_OTHER_KEY,   /* a key that is not the leaf's */
	LAYOUT_NO_LABELS,   /* no friendlyName or localKeyId on the leaf */
	LAYOUT_OTHER_ID,    /* the key's localKeyId is not the leaf's */
	LAYOUT_OTHER_NAME,  /* the key's friendlyName is not the leaf's */
	LAYOUT_CERTS_CLEAR, /* the certificates not encrypted */
};

/* PKCS#8 of key, encrypted the modern way. */
static void
encrypt_key(const struct pki_secret *key, gnutls_datum_t *enc)
{
	gnutls_x509_privkey_t xkey = NULL;
	gnutls_datum_t d = { key->data, (unsigned)key->len };

	assert_int_equal(gnutls_x509_privkey_init(&xkey), 0);
	assert_int_equal(
	    gnutls_x509_privkey_import_pkcs8(xkey, &d, GNUTLS_X509_FMT_DER,
	                                     NULL, GNUTLS_PKCS_PLAIN),
	    0);
	assert_int_equal(gnutls_x509_privkey_export2_pkcs8(
	                     xkey, GNUTLS_X509_FMT_DER, PASSWORD,
	                     GNUTLS_PKCS_PBES2_AES_256, enc),
	                 0);
	gnutls_x509_privkey_deinit(xkey);
}

static struct pki_secret *
build_layout(enum layout l)
{
	gnutls_pkcs12_t p12 = NULL;
	gnutls_pkcs12_bag_t bag = NULL;
	gnutls_datum_t d, enc = { NULL, 0 };
	gnutls_datum_t id = { (unsigned char *)"0123456789", 10 };
	gnutls_datum_t id2 = { (unsigned char *)"9876543210", 10 };
	bool naive = l == LAYOUT_NAIVE;
	struct pki_secret *s;

	assert_int_equal(gnutls_pkcs12_init(&p12), 0);
	for (int i = 0; i < NCHAIN; i++) {
		if (!bag)
			assert_int_equal(gnutls_pkcs12_bag_init(&bag), 0);
		d.data = g_cert[i]->der;
		d.size = (unsigned)g_cert[i]->der_len;
		assert_int_equal(
		    gnutls_pkcs12_bag_set_data(bag, GNUTLS_BAG_CERTIFICATE, &d),
		    naive ? 0 : i);
		if (i == 0 && l != LAYOUT_NO_LABELS) {
			assert_int_equal(gnutls_pkcs12_bag_set_friendly_name(
			                     bag, 0, LEAF_CN),
			                 0);
			assert_int_equal(
			    gnutls_pkcs12_bag_set_key_id(bag, 0, &id), 0);
		}
		if (naive || i == NCHAIN - 1) {
			if (!naive && l != LAYOUT_CERTS_CLEAR)
				assert_int_equal(gnutls_pkcs12_bag_encrypt(
				                     bag, PASSWORD,
				                     GNUTLS_PKCS_PBES2_AES_256),
				                 0);
			assert_int_equal(gnutls_pkcs12_set_bag(p12, bag), 0);
			gnutls_pkcs12_bag_deinit(bag);
			bag = NULL;
		}
	}
	assert_int_equal(gnutls_pkcs12_bag_init(&bag), 0);
	if (naive || l == LAYOUT_PLAIN_KEY) {
		d.data = g_leaf_key->data;
		d.size = (unsigned)g_leaf_key->len;
		assert_int_equal(
		    gnutls_pkcs12_bag_set_data(bag, GNUTLS_BAG_PKCS8_KEY, &d),
		    0);
	} else {
		encrypt_key(l == LAYOUT_OTHER_KEY ? g_other_key : g_leaf_key,
		            &enc);
		assert_int_equal(gnutls_pkcs12_bag_set_data(
		                     bag, GNUTLS_BAG_PKCS8_ENCRYPTED_KEY, &enc),
		                 0);
		gnutls_free(enc.data);
	}
	assert_int_equal(
	    gnutls_pkcs12_bag_set_friendly_name(
	        bag, 0, l == LAYOUT_OTHER_NAME ? NICE_NAME : LEAF_CN),
	    0);
	assert_int_equal(gnutls_pkcs12_bag_set_key_id(
	                     bag, 0, l == LAYOUT_OTHER_ID ? &id2 : &id),
	                 0);
	assert_int_equal(gnutls_pkcs12_set_bag(p12, bag), 0);
	gnutls_pkcs12_bag_deinit(bag);
	assert_int_equal(
	    gnutls_pkcs12_generate_mac2(p12, GNUTLS_MAC_SHA256, PASSWORD), 0);
	assert_int_equal(gnutls_pkcs12_export2(p12, GNUTLS_X509_FMT_DER, &d),
	                 0);
	s = secret_from(d.data, d.size);
	gnutls_free(d.data);
	gnutls_pkcs12_deinit(p12);
	return s;
}

static void
test_check_refuses_other_layouts(void **state)
{
	static const struct {
		enum layout l;
		const char *why;
	} cases[] = {
		{ LAYOUT_NAIVE, "more than 2 ContentInfos" },
		{ LAYOUT_PLAIN_KEY, "plain keyBag" },
		{ LAYOUT_OTHER_KEY, "key does not match the leaf" },
		{ LAYOUT_NO_LABELS, "leaf has no friendlyName" },
		{ LAYOUT_OTHER_ID, "localKeyId differs" },
		{ LAYOUT_OTHER_NAME, "friendlyName or localKeyId differs" },
		{ LAYOUT_CERTS_CLEAR, "first ContentInfo is not encrypted" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct pki_secret *pfx = build_layout(cases[i].l);

		expect_refused_own_count(pfx, PASSWORD, g_chain, NCHAIN,
		                         PKI_P12_MODERN, cases[i].why);
		pki_secret_free(pfx);
	}
}

/*
 * in with its MAC made anew over its (edited) content: HMAC-SHA256 with
 * iter iterations, by OpenSSL (GnuTLS would use its own count).
 */
static struct pki_secret *
remac(const struct pki_secret *in, unsigned iter)
{
	const unsigned char *p = in->data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)in->len);
	struct pki_secret *s = calloc(1, sizeof(*s));
	unsigned char *q;
	int len;

	assert_non_null(p12);
	assert_non_null(s);
	assert_int_equal(
	    PKCS12_set_mac(p12, PASSWORD, -1, NULL, 8, (int)iter, EVP_sha256()),
	    1);
	len = i2d_PKCS12(p12, NULL);
	assert_true(len > 0);
	s->data = malloc((size_t)len);
	assert_non_null(s->data);
	q = s->data;
	assert_int_equal(i2d_PKCS12(p12, &q), len);
	s->len = (size_t)len;
	PKCS12_free(p12);
	return s;
}

/*
 * The modern PFX with the key's PBKDF2 PRF turned into hmacWithSHA384
 * (which go-pkcs12 cannot read) and the MAC made anew: no API writes it,
 * so the DER is edited.
 */
static struct pki_secret *
build_key_prf_sha384(void)
{
	static const unsigned char hmac_sha256[] = { 0x06, 0x08, 0x2a, 0x86,
		                                     0x48, 0x86, 0xf7, 0x0d,
		                                     0x02, 0x09 };
	const struct pki_secret *pfx = g_pfx[PKI_P12_MODERN];
	struct pki_secret *copy = secret_from(pfx->data, pfx->len), *s;
	size_t last = SIZE_MAX;

	/* The last one is the key's: the certificates' part comes first. */
	for (size_t i = 0; i + sizeof(hmac_sha256) <= copy->len; i++) {
		if (memcmp(copy->data + i, hmac_sha256, sizeof(hmac_sha256)) ==
		    0)
			last = i;
	}
	assert_true(last != SIZE_MAX);
	copy->data[last + sizeof(hmac_sha256) - 1] = 0x0a;
	s = remac(copy, PKI_P12_ITER_DEFAULT);
	pki_secret_free(copy);
	return s;
}

static void
test_check_refuses_other_prf(void **state)
{
	struct pki_secret *pfx = build_key_prf_sha384();

	(void)state;
	expect_refused(pfx, PASSWORD, g_chain, NCHAIN, PKI_P12_MODERN,
	               "PRF is not hmacWithSHA256");
	pki_secret_free(pfx);
}

static void
test_mac_iterations(void **state)
{
	unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x03 };
	struct pki_secret bad = { junk, sizeof(junk) };
	unsigned iter;

	(void)state;
	for (int p = 0; p < 2; p++) {
		iter = 0;
		assert_int_equal(pki_p12_mac_iterations(g_pfx[p], &iter), 0);
		assert_int_equal(iter, PKI_P12_ITER_DEFAULT);
		print_message("%s: MAC iterations %u\n", PROFILE_NAME[p], iter);
	}
	iter = 7;
	assert_int_equal(pki_p12_mac_iterations(&bad, &iter), ERR_INVALID);
	assert_int_equal(pki_p12_mac_iterations(NULL, &iter), ERR_INVALID);
	assert_int_equal(iter, 7);
}

/* ---- iteration counts ------------------------------------------------- */

/* Salt bytes before each encryption's count: 8 (PKCS#12 PBE), 16 (PBKDF2). */
static const size_t SALT_LEN[2] = { 8, 16 };

/*
 * Offset of the contents of the nth (from 0) INTEGER iter (two bytes) that
 * follows a salt of saltlen bytes in s, or SIZE_MAX. Certificates first,
 * then the key, then the MAC.
 */
static size_t
find_count(const struct pki_secret *s, unsigned iter, size_t saltlen, int nth)
{
	const unsigned char want[4] = { 0x02, 0x02, (unsigned char)(iter >> 8),
		                        (unsigned char)iter };

	for (size_t i = saltlen + 2; i + sizeof(want) <= s->len; i++) {
		if (memcmp(s->data + i, want, sizeof(want)) == 0 &&
		    s->data[i - saltlen - 2] == 0x04 &&
		    s->data[i - saltlen - 1] == saltlen && nth-- == 0)
			return i + 2;
	}
	return SIZE_MAX;
}

/* How many "Iteration <iter>" openssl pkcs12 -info prints for pfx. */
static size_t
openssl_count_of(const struct pki_secret *pfx, unsigned iter)
{
	char cmd[1200], want[64];
	struct text out;
	size_t n;

	snprintf(cmd, sizeof(cmd),
	         "openssl pkcs12 -info -nokeys -nocerts -in '%s' "
	         "-passin 'pass:%s' 2>&1",
	         write_tmp("count.p12", pfx), PASSWORD);
	if (run(cmd, &out) != 0)
		fail_msg("%s: %s", cmd, out.s);
	/* "Iteration 1000" is also the start of "Iteration 100000" */
	snprintf(want, sizeof(want), "Iteration %u\n", iter);
	n = count_of(out.s, want);
	snprintf(want, sizeof(want), "Iteration %u,", iter);
	n += count_of(out.s, want);
	text_free(&out);
	return n;
}

static void
export_at(enum pki_p12_profile p, unsigned iter, struct pki_secret **out)
{
	double t0 = now_seconds(), t1;
	const char *why = WHY_SENTINEL;
	unsigned mac = 0;
	int ret = pki_p12_export(g_leaf_key, g_chain, NCHAIN, NULL, PASSWORD, p,
	                         iter, out);

	if (ret != 0)
		fail_msg("%s at %u: export %d", PROFILE_NAME[p], iter, ret);
	t1 = now_seconds();
	ret = pki_p12_check(*out, PASSWORD, g_chain, NCHAIN, p, iter, &why);
	if (ret != 0)
		fail_msg("%s at %u: check %d %s", PROFILE_NAME[p], iter, ret,
		         why);
	print_message("%s at %u iterations: export %.3f s, check %.3f s\n",
	              PROFILE_NAME[p], iter, t1 - t0, now_seconds() - t1);
	assert_int_equal(pki_p12_mac_iterations(*out, &mac), 0);
	assert_int_equal(mac, iter);
}

/*
 * The count asked for is the count written, for the MAC and both
 * encryptions, at the edges and between: GnuTLS (the check and
 * pki_p12_mac_iterations()) and openssl pkcs12 -info both read it.
 * 1,000,000 costs about a second per export and check: one profile.
 */
static void
test_iteration_counts(void **state)
{
	static const struct {
		unsigned iter;
		bool both_profiles;
	} cases[] = {
		{ PKI_P12_ITER_MIN, true },
		{ 100000, true },
		{ PKI_P12_ITER_MAX, false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		for (int p = cases[i].both_profiles ? 0 : 1; p < 2; p++) {
			struct pki_secret *pfx = NULL;

			export_at((enum pki_p12_profile)p, cases[i].iter, &pfx);
			/* MAC, certificates, key */
			assert_int_equal(openssl_count_of(pfx, cases[i].iter),
			                 3);
			pki_secret_free(pfx);
		}
	}
	/* and the default, shared by the other tests */
	for (int p = 0; p < 2; p++)
		assert_int_equal(
		    openssl_count_of(g_pfx[p], PKI_P12_ITER_DEFAULT), 3);
}

/*
 * The check refuses a count other than the one asked for, wherever it
 * is: the MAC's, the certificates' or the key's (edited in the DER, the
 * MAC made anew at the asked count).
 */
static void
test_check_refuses_other_counts(void **state)
{
	static const char *const where[2] = { "certificates", "key" };

	(void)state;
	for (int p = 0; p < 2; p++) {
		enum pki_p12_profile prof = (enum pki_p12_profile)p;
		struct pki_secret *pfx = NULL, *edited;

		expect_refused_iter(g_pfx[p], PASSWORD, g_chain, NCHAIN, prof,
		                    PKI_P12_ITER_MIN,
		                    "MAC's iteration count is not");
		export_at(prof, PKI_P12_ITER_MIN, &pfx);
		expect_refused_iter(pfx, PASSWORD, g_chain, NCHAIN, prof,
		                    PKI_P12_ITER_MIN + 1,
		                    "MAC's iteration count is not");
		for (int w = 0; w < 2; w++) {
			struct pki_secret *copy =
			    secret_from(pfx->data, pfx->len);
			size_t off =
			    find_count(copy, PKI_P12_ITER_MIN, SALT_LEN[p], w);

			if (off == SIZE_MAX)
				fail_msg(
				    "%s: no %s count after a %zu-byte salt",
				    PROFILE_NAME[p], where[w], SALT_LEN[p]);
			copy->data[off + 1]++; /* 1000 -> 1001 */
			edited = remac(copy, PKI_P12_ITER_MIN);
			expect_refused_iter(edited, PASSWORD, g_chain, NCHAIN,
			                    prof, PKI_P12_ITER_MIN,
			                    "an encryption's iteration count");
			pki_secret_free(edited);
			pki_secret_free(copy);
		}
		/* the MAC alone at another count */
		edited = remac(pfx, PKI_P12_ITER_MIN + 1);
		expect_refused_iter(edited, PASSWORD, g_chain, NCHAIN, prof,
		                    PKI_P12_ITER_MIN + 1,
		                    "an encryption's iteration count");
		/* and remac() itself leaves a PFX the check accepts */
		pki_secret_free(edited);
		edited = remac(pfx, PKI_P12_ITER_MIN);
		assert_int_equal(pki_p12_check(edited, PASSWORD, g_chain,
		                               NCHAIN, prof, PKI_P12_ITER_MIN,
		                               NULL),
		                 0);
		pki_secret_free(edited);
		pki_secret_free(pfx);
	}
	/* bad expectations are refused as arguments */
	expect_refused_iter(g_pfx[0], PASSWORD, g_chain, NCHAIN, PKI_P12_COMPAT,
	                    999, "bad arguments");
}

/* ---- tools we did not write ------------------------------------------- */

static void
test_openssl_reads(void **state)
{
	static const char *const algs[2][3] = {
		{ "pbeWithSHA1And3-KeyTripleDES-CBC", "", "" },
		{ "PBES2", "AES-256-CBC", "hmacWithSHA256" },
	};
	char cmd[1200];
	struct text out;

	(void)state;
	for (int p = 0; p < 2; p++) {
		const char *f =
		    write_tmp(p ? "modern.p12" : "compat.p12", g_pfx[p]);
		const char *name = p ? NICE_NAME : LEAF_CN;
		const char *s_leaf, *s_inter, *s_root;
		char want[128];

		snprintf(cmd, sizeof(cmd),
		         "openssl pkcs12 -info -in '%s' -passin 'pass:%s' "
		         "-nokeys 2>&1",
		         f, PASSWORD);
		if (run(cmd, &out) != 0)
			fail_msg("%s: %s", cmd, out.s);
		assert_int_equal(count_of(out.s, "BEGIN CERTIFICATE"), NCHAIN);
		assert_non_null(strstr(out.s, "MAC: sha256"));
		/* Two ContentInfos: certificates encrypted, key in data. */
		assert_int_equal(count_of(out.s, "PKCS7 Encrypted data:"), 1);
		assert_int_equal(count_of(out.s, "PKCS7 Data"), 1);
		assert_int_equal(count_of(out.s, "Certificate bag"), NCHAIN);
		assert_int_equal(count_of(out.s, "Shrouded Keybag:"), 1);
		for (int i = 0; i < 3; i++) {
			/* both the certificates and the key */
			if (algs[p][i][0])
				assert_int_equal(count_of(out.s, algs[p][i]),
				                 2);
		}
		snprintf(want, sizeof(want), "friendlyName: %s", name);
		assert_int_equal(count_of(out.s, want), 1);
		assert_int_equal(count_of(out.s, "localKeyID:"), 1);
		/* Leaf first, root last. */
		s_leaf = strstr(out.s, "subject=CN = " LEAF_CN);
		s_inter = strstr(out.s, "subject=CN = Test P12 Intermediate");
		s_root = strstr(out.s, "subject=CN = Test P12 Root");
		assert_true(s_leaf && s_inter && s_root);
		assert_true(s_leaf < s_inter && s_inter < s_root);
		text_free(&out);

		/* The same tool refuses a wrong password. */
		snprintf(cmd, sizeof(cmd),
		         "openssl pkcs12 -info -in '%s' -passin "
		         "'pass:wrong password' -nokeys 2>&1",
		         f);
		assert_int_not_equal(run(cmd, &out), 0);
		text_free(&out);
	}
}

static void
test_openssl_key_matches_leaf(void **state)
{
	char cmd[1200];
	struct text out;

	(void)state;
	for (int p = 0; p < 2; p++) {
		const char *f =
		    write_tmp(p ? "modern.p12" : "compat.p12", g_pfx[p]);

		/* pipefail is not in dash: a failing pkcs12 gives no key,
		 * hence another digest. */
		snprintf(cmd, sizeof(cmd),
		         "openssl pkcs12 -in '%s' -passin 'pass:%s' -nocerts "
		         "-nodes 2>/dev/null | openssl pkey -pubout -outform "
		         "DER 2>/dev/null | openssl dgst -sha256 -r",
		         f, PASSWORD);
		assert_int_equal(run(cmd, &out), 0);
		if (out.len < PKI_SHA256_HEX_LEN ||
		    strncmp(out.s, g_cert[LEAF]->spki_sha256,
		            PKI_SHA256_HEX_LEN) != 0)
			fail_msg("%s: key SPKI %s, leaf %s", PROFILE_NAME[p],
			         out.s, g_cert[LEAF]->spki_sha256);
		text_free(&out);
	}
}

static void
test_certtool_reads(void **state)
{
	static const char *const schema[2] = { "PKCS12-3DES-SHA1",
		                               "PBES2-AES256-CBC" };
	char cmd[1200];
	struct text out;

	(void)state;
	for (int p = 0; p < 2; p++) {
		const char *f =
		    write_tmp(p ? "modern.p12" : "compat.p12", g_pfx[p]);

		snprintf(cmd, sizeof(cmd),
		         "certtool --p12-info --inder --infile '%s' "
		         "--password '%s' 2>&1",
		         f, PASSWORD);
		if (run(cmd, &out) != 0)
			fail_msg("%s: %s", cmd, out.s);
		assert_non_null(strstr(out.s, "MAC: SHA256"));
		assert_non_null(strstr(out.s, "BAG #1"));
		assert_null(strstr(out.s, "BAG #2"));
		assert_non_null(strstr(out.s, "Elements: 3"));
		assert_int_equal(count_of(out.s, "Type: PKCS #8 Encrypted key"),
		                 1);
		assert_int_equal(count_of(out.s, schema[p]), 2);
		text_free(&out);

		snprintf(cmd, sizeof(cmd),
		         "certtool --p12-info --inder --infile '%s' "
		         "--password 'wrong password' 2>&1",
		         f);
		assert_int_not_equal(run(cmd, &out), 0);
		text_free(&out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_rule),
		cmocka_unit_test(test_export_refuses),
		cmocka_unit_test(test_check_passes),
		cmocka_unit_test(test_check_wrong_password),
		cmocka_unit_test(test_check_different_certs),
		cmocka_unit_test(test_check_wrong_profile),
		cmocka_unit_test(test_check_der_framing),
		cmocka_unit_test(test_check_refuses_other_layouts),
		cmocka_unit_test(test_check_refuses_other_prf),
		cmocka_unit_test(test_mac_iterations),
		cmocka_unit_test(test_iteration_counts),
		cmocka_unit_test(test_check_refuses_other_counts),
		cmocka_unit_test(test_openssl_reads),
		cmocka_unit_test(test_openssl_key_matches_leaf),
		cmocka_unit_test(test_certtool_reads),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
