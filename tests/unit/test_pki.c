/*
 * test_pki.c: unit tests of pki/ (keys, CSRs, sealing, naming rules).
 *
 * Parsers are always fed exact-size heap copies (no NUL after the data), so
 * ASan catches any read past the length they were given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "pki/pki.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A 2048-bit key shared by the CSR tests (generation is slow). */
static struct pki_secret *g_key;

/* Sentinels: out-params must keep them on failure. */
static struct pki_csr_info *const INFO_SENTINEL =
    (struct pki_csr_info *)(uintptr_t)0x1;
static struct pki_secret *const SECRET_SENTINEL =
    (struct pki_secret *)(uintptr_t)0x1;

static int
group_setup(void **state)
{
	(void)state;
	if (pki_init() != 0)
		return -1;
	return pki_key_generate_rsa(2048, &g_key) == 0 ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	pki_secret_free(g_key);
	g_key = NULL;
	pki_deinit();
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

/* pki_csr_parse() on an exact-size heap copy of s[0..len). */
static int
parse_exact(const char *s, size_t len, struct pki_csr_info **out,
            const char **why)
{
	char *copy = malloc(len ? len : 1);
	int ret;

	assert_non_null(copy);
	if (len)
		memcpy(copy, s, len);
	ret = pki_csr_parse(copy, len, out, why);
	free(copy);
	return ret;
}

/* Replaces every occurrence of from by to; malloc'd result. */
static char *
str_replace_all(const char *s, const char *from, const char *to)
{
	size_t lf = strlen(from), lt = strlen(to), n = 0;
	const char *p;
	char *out, *w;

	for (p = s; (p = strstr(p, from)); p += lf)
		n++;
	out = malloc(strlen(s) + n * lt + 1);
	assert_non_null(out);
	w = out;
	while ((p = strstr(s, from))) {
		memcpy(w, s, (size_t)(p - s));
		w += p - s;
		memcpy(w, to, lt);
		w += lt;
		s = p + lf;
	}
	memcpy(w, s, strlen(s) + 1);
	return out;
}

static char *
str_concat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *out = malloc(la + lb + lc + 1);

	assert_non_null(out);
	memcpy(out, a, la);
	memcpy(out + la, b, lb);
	memcpy(out + la + lb, c, lc + 1);
	return out;
}

static void
pem_to_der(const char *pem, gnutls_datum_t *der)
{
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)pem,
		              (unsigned)strlen(pem) };

	assert_int_equal(
	    gnutls_pem_base64_decode2("CERTIFICATE REQUEST", &in, der), 0);
}

/* PEM of der as a malloc'd C string. */
static char *
der_to_pem(const gnutls_datum_t *der)
{
	gnutls_datum_t out = { NULL, 0 };
	char *s;

	assert_int_equal(
	    gnutls_pem_base64_encode2("CERTIFICATE REQUEST", der, &out), 0);
	s = malloc(out.size + 1);
	assert_non_null(s);
	memcpy(s, out.data, out.size);
	s[out.size] = '\0';
	gnutls_free(out.data);
	return s;
}

/* Hex SHA-256 of the SPKI of a PKCS#8 key, computed without pki/. */
static void
key_spki_sha256(const struct pki_secret *key, char *hex)
{
	gnutls_x509_privkey_t xk;
	gnutls_privkey_t pk;
	gnutls_pubkey_t pub;
	gnutls_datum_t kd = { key->data, (unsigned)key->len };
	gnutls_datum_t spki;
	unsigned char md[32];

	assert_int_equal(gnutls_x509_privkey_init(&xk), 0);
	assert_int_equal(
	    gnutls_x509_privkey_import_pkcs8(xk, &kd, GNUTLS_X509_FMT_DER, NULL,
	                                     GNUTLS_PKCS_PLAIN),
	    0);
	assert_int_equal(gnutls_privkey_init(&pk), 0);
	assert_int_equal(gnutls_privkey_import_x509(pk, xk, 0), 0);
	assert_int_equal(gnutls_pubkey_init(&pub), 0);
	assert_int_equal(gnutls_pubkey_import_privkey(pub, pk, 0, 0), 0);
	assert_int_equal(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki),
	                 0);
	assert_int_equal(
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, md), 0);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	gnutls_free(spki.data);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(pk);
	gnutls_x509_privkey_deinit(xk);
}

/* A heap subject (pki_subject holds char *); free with pki_subject_clear. */
static struct pki_subject
subject_make(const char *cn, const char *o, const char *ou, const char *l,
             const char *st, const char *c)
{
	struct pki_subject s = {
		.common_name = util_strdup(cn),
		.organization = util_strdup(o),
		.organizational_unit = util_strdup(ou),
		.locality = util_strdup(l),
		.state = util_strdup(st),
		.country = util_strdup(c),
	};

	return s;
}

static char *
make_csr(const struct pki_subject *subj, const char *const *san, size_t nsan,
         char *spki)
{
	char *pem = NULL;

	assert_int_equal(pki_csr_create(g_key, subj, san, nsan, &pem, spki), 0);
	assert_non_null(pem);
	return pem;
}

/* ---- init, hashing, secrets ------------------------------------------ */

static void
test_init_idempotent(void **state)
{
	char hex[PKI_SHA256_HEX_LEN + 1];

	(void)state;
	/* Second init is a no-op; one deinit undoes both; re-init works. */
	assert_int_equal(pki_init(), 0);
	pki_deinit();
	assert_int_equal(pki_init(), 0);
	assert_int_equal(pki_sha256_hex("abc", 3, hex), 0);
	pki_secret_free(NULL);
	pki_subject_clear(NULL);
	pki_csr_info_free(NULL);
}

static void
test_sha256_hex(void **state)
{
	static const struct {
		const char *in;
		const char *hex;
	} cases[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
		      "7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410f"
		         "f61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db"
		  "06c1" },
	};
	char hex[PKI_SHA256_HEX_LEN + 1];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		memset(hex, 'X', sizeof(hex));
		assert_int_equal(
		    pki_sha256_hex(cases[i].in, strlen(cases[i].in), hex), 0);
		assert_string_equal(hex, cases[i].hex);
	}
}

/* ---- names ------------------------------------------------------------ */

/* Fills buf with labels of label_len 'a's joined by dots, total len. */
static void
make_name(char *buf, size_t total, size_t label_len)
{
	for (size_t i = 0; i < total; i++)
		buf[i] = (i + 1) % (label_len + 1) == 0 ? '.' : 'a';
	buf[total] = '\0';
	/* A name must not end with a dot. */
	if (buf[total - 1] == '.')
		buf[total - 1] = 'b';
}

static void
test_fqdn_table(void **state)
{
	char l63[63 + 5], l64[64 + 5], w63[2 + 63 + 5], w64[2 + 64 + 5];
	char n253[254], n254[255];
	const struct {
		const char *name;
		bool wildcard;
		bool ok;
	} cases[] = {
		{ "example.com", false, true },
		{ "amt.example.com", false, true },
		{ "AMT.Example.COM", false, true },
		{ "a-b.example.com", false, true },
		{ "a--b.example.com", false, true },
		{ "xn--bcher-kva.example", false, true },
		{ "123.example.com", false, true },
		{ "a.b", false, true },
		{ "host.com1", false, true },
		{ "localhost", false, false },
		{ "com", false, false },
		{ "example.com.", false, false },
		{ ".example.com", false, false },
		{ "a..example.com", false, false },
		{ "-a.example.com", false, false },
		{ "a-.example.com", false, false },
		{ "a.example-.com", false, false },
		{ "a.example.-com", false, false },
		{ "a_b.example.com", false, false },
		{ "_acme.example.com", false, false },
		{ "a b.example.com", false, false },
		{ "ex@mple.com", false, false },
		{ "ex\xc3\xa4mple.com", false, false },
		{ "192.168.1.1", false, false },
		{ "1.2.3.4", false, false },
		{ "host.123", false, false },
		{ "::1", false, false },
		{ "", false, false },
		{ ".", false, false },
		{ NULL, false, false },
		{ NULL, true, false },
		{ "*.example.com", false, false },
		{ "*.example.com", true, true },
		{ "*.amt.example.co.uk", true, true },
		{ "*.com", true, false },
		{ "*", true, false },
		{ "*.", true, false },
		{ "a.*.example.com", true, false },
		{ "*example.com", true, false },
		{ "**.example.com", true, false },
		{ "*.*.example.com", true, false },
		{ "*.example.com.", true, false },
		{ "example.com", true, true },
		{ l63, false, true },
		{ l64, false, false },
		{ w63, true, true },
		{ w64, true, false },
		{ n253, false, true },
		{ n254, false, false },
	};

	(void)state;
	memset(l63, 'a', 63);
	memcpy(l63 + 63, ".com", 5);
	memset(l64, 'a', 64);
	memcpy(l64 + 64, ".com", 5);
	memcpy(w63, "*.", 2);
	memcpy(w63 + 2, l63, strlen(l63) + 1);
	memcpy(w64, "*.", 2);
	memcpy(w64 + 2, l64, strlen(l64) + 1);
	make_name(n253, 253, 63);
	make_name(n254, 254, 63);
	assert_int_equal(strlen(l63), 67);
	assert_int_equal(strlen(w64), 70);
	assert_int_equal(strlen(n253), 253);
	assert_int_equal(strlen(n254), 254);

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		bool got = pki_name_is_fqdn(cases[i].name, cases[i].wildcard);

		if (got != cases[i].ok)
			fail_msg("pki_name_is_fqdn(\"%s\", %d) = %d, want %d",
			         cases[i].name ? cases[i].name : "(null)",
			         cases[i].wildcard, got, cases[i].ok);
	}
}

static void
test_country_codes(void **state)
{
	static const struct {
		const char *cc;
		bool ok;
	} cases[] = {
		{ "US", true },   { "DE", true },   { "GB", true },
		{ "FR", true },   { "JP", true },   { "AD", true },
		{ "ZW", true },   { "AX", true },   { "SS", true },
		{ "BQ", true },   { "UK", false },  { "XX", false },
		{ "us", false },  { "Us", false },  { "USA", false },
		{ "U", false },   { "", false },    { NULL, false },
		{ "EU", false },  { "XK", false },  { "AN", false },
		{ "YU", false },  { "U1", false },  { "1U", false },
		{ " US", false }, { "US ", false },
	};
	char cc[3] = { 0 };
	int valid = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		bool got = pki_country_is_valid(cases[i].cc);

		if (got != cases[i].ok)
			fail_msg("pki_country_is_valid(\"%s\") = %d",
			         cases[i].cc ? cases[i].cc : "(null)", got);
	}
	/* The table is complete and sorted: all 249 codes are found. */
	for (char a = 'A'; a <= 'Z'; a++) {
		for (char b = 'A'; b <= 'Z'; b++) {
			cc[0] = a;
			cc[1] = b;
			valid += pki_country_is_valid(cc);
		}
	}
	assert_int_equal(valid, 249);
}

static void
test_state_abbreviations(void **state)
{
	static const struct {
		const char *state;
		bool abbreviated;
	} cases[] = {
		{ "CA", true },
		{ "ca", true },
		{ "Tx", true },
		{ "NSW", true },
		{ "QLD", true },
		{ " CA ", true },
		{ "Calif.", true },
		{ "Mass.", true },
		{ "N.Y.", true },
		{ "N.Y", true },
		{ "D.C.", true },
		{ "Texas", false },
		{ "New York", false },
		{ "Bayern", false },
		{ "BAYERN", false },
		{ "California", false },
		{ "New South Wales", false },
		{ "Goa", false },
		{ "Zug", false },
		{ "St. Gallen", false },
		{ "\xc3\x8ele-de-France", false },
		{ "", false },
		{ "   ", false },
		{ NULL, false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		bool got = pki_state_looks_abbreviated(cases[i].state);

		if (got != cases[i].abbreviated)
			fail_msg("pki_state_looks_abbreviated(\"%s\") = %d",
			         cases[i].state ? cases[i].state : "(null)",
			         got);
	}
}

struct suffix_case {
	const char *name;
	const char *suffix;
	bool intel;
	bool rps;
};

static const struct suffix_case suffix_cases[] = {
	/* plain suffix on a label boundary */
	{ "amt.intel.com", "intel.com", true, true },
	{ "intel.com", "intel.com", true, true },
	{ "AMT.Intel.COM", "intel.com", true, false },
	{ "badintel.com", "intel.com", false, false },
	{ "host.badintel.com", "intel.com", false, false },
	{ "amt.intel.com", "amt.intel.com", true, true },
	/* wildcard counts as its parent */
	{ "*.vpro.example.com", "example.com", true, true },
	{ "*.vpro.example.com", "vpro.example.com", true, true },
	{ "*.example.com", "example.com", true, true },
	{ "*.example.io", "example.io", true, true },
	/* the wildcard goes before shortening: "example.uk" is kept whole */
	{ "*.example.uk", "corp.example.uk", true, true },
	{ "example.uk", "corp.example.uk", true, true },
	{ "amt.example.uk", "corp.example.uk", false, true },
	/* com/net/... depth 2: the last two labels are enough */
	{ "csa.ftl.intel.com", "dev.intel.com", true, true },
	{ "a.example.net", "b.example.net", true, true },
	{ "amt.example.de", "corp.example.de", true, true },
	{ "example.com", "amt.example.com", true, true },
	{ "amt.example.org", "example.com", false, false },
	{ "amt.example.com", "example.net", false, false },
	/* co.uk-style depth 3 */
	{ "a.example.co.uk", "b.other.co.uk", false, true },
	{ "a.example.co.uk", "b.example.co.uk", true, true },
	{ "a.b.example.fr", "c.b.example.fr", true, true },
	{ "a.b.example.fr", "c.example.fr", false, true },
	/* TLDs outside the table: no shortening */
	{ "amt.example.io", "other.example.io", false, true },
	{ "amt.example.io", "example.io", true, true },
	{ "a.corp.example.dev", "b.corp.example.dev", false, true },
	/* malformed or missing */
	{ "localhost", "localhost", true, false },
	{ "amt.intel.com.", "intel.com", false, false },
	{ "amt.intel.com", ".intel.com", false, false },
	{ "amt..intel.com", "intel.com", false, false },
	{ "", "intel.com", false, false },
	{ "amt.intel.com", "", false, false },
	{ NULL, "intel.com", false, false },
	{ "amt.intel.com", NULL, false, false },
	{ NULL, NULL, false, false },
};

static void
test_suffix_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(suffix_cases); i++) {
		const struct suffix_case *c = &suffix_cases[i];
		bool intel = pki_suffix_matches_intel(c->name, c->suffix);
		bool rps = pki_suffix_matches_rps(c->name, c->suffix);

		if (intel != c->intel)
			fail_msg("intel(\"%s\", \"%s\") = %d",
			         c->name ? c->name : "(null)",
			         c->suffix ? c->suffix : "(null)", intel);
		if (rps != c->rps)
			fail_msg("rps(\"%s\", \"%s\") = %d",
			         c->name ? c->name : "(null)",
			         c->suffix ? c->suffix : "(null)", rps);
	}
}

/* ---- keys ------------------------------------------------------------- */

static void
check_rsa_key(const struct pki_secret *key, unsigned bits)
{
	gnutls_x509_privkey_t xk;
	gnutls_datum_t kd = { key->data, (unsigned)key->len };
	unsigned got_bits = 0;

	assert_non_null(key->data);
	assert_true(key->len > bits / 8);
	/* PrivateKeyInfo { version 0, ... }, not EncryptedPrivateKeyInfo. */
	assert_int_equal(key->data[0], 0x30);
	assert_int_equal(key->data[1], 0x82);
	assert_memory_equal(key->data + 4, "\x02\x01\x00", 3);
	assert_int_equal(gnutls_x509_privkey_init(&xk), 0);
	/* Plain PKCS#8: imports without a password. */
	assert_int_equal(
	    gnutls_x509_privkey_import_pkcs8(xk, &kd, GNUTLS_X509_FMT_DER, NULL,
	                                     GNUTLS_PKCS_PLAIN),
	    0);
	assert_int_equal(gnutls_x509_privkey_get_pk_algorithm2(xk, &got_bits),
	                 GNUTLS_PK_RSA);
	assert_int_equal(got_bits, bits);
	gnutls_x509_privkey_deinit(xk);
}

static void
test_key_generate_2048(void **state)
{
	struct pki_secret *k = NULL;

	(void)state;
	check_rsa_key(g_key, 2048);
	assert_int_equal(pki_key_generate_rsa(2048, &k), 0);
	check_rsa_key(k, 2048);
	/* Two keys are different keys. */
	assert_false(k->len == g_key->len &&
	             memcmp(k->data, g_key->data, k->len) == 0);
	pki_secret_free(k);
}

static void
test_key_generate_3072(void **state)
{
	struct pki_secret *k = NULL;

	(void)state;
	assert_int_equal(pki_key_generate_rsa(3072, &k), 0);
	check_rsa_key(k, 3072);
	pki_secret_free(k);
}

static void
test_key_generate_refuses(void **state)
{
	static const unsigned bad[] = { 0, 512, 1024, 2047, 2049, 4095, 8192 };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct pki_secret *k = SECRET_SENTINEL;

		assert_int_equal(pki_key_generate_rsa(bad[i], &k), ERR_INVALID);
		assert_ptr_equal(k, SECRET_SENTINEL);
	}
	assert_int_equal(pki_key_generate_rsa(2048, NULL), ERR_INVALID);
}

/* ---- CSR create / parse ---------------------------------------------- */

static void
test_csr_roundtrip(void **state)
{
	struct pki_subject subj =
	    subject_make("amt.example.com", "Example Corp", "IT", "Springfield",
	                 "Illinois", "US");
	const char *const san[] = { "b.example.com", "c.example.com" };
	char spki[PKI_SHA256_HEX_LEN + 1], want_spki[PKI_SHA256_HEX_LEN + 1];
	struct pki_csr_info *info = NULL;
	const char *why = NULL;
	gnutls_x509_crq_t crq;
	gnutls_datum_t dn = { NULL, 0 };
	gnutls_datum_t pd;
	char *pem;

	(void)state;
	pem = make_csr(&subj, san, ARRAY_LEN(san), spki);
	assert_true(strncmp(pem, "-----BEGIN CERTIFICATE REQUEST-----\n", 36) ==
	            0);
	assert_non_null(strstr(pem, "-----END CERTIFICATE REQUEST-----\n"));
	assert_int_equal(strlen(spki), PKI_SHA256_HEX_LEN);
	key_spki_sha256(g_key, want_spki);
	assert_string_equal(spki, want_spki);

	/* Subject order C, ST, L, O, OU, CN (RFC 4514 prints it reversed). */
	assert_int_equal(gnutls_x509_crq_init(&crq), 0);
	pd.data = (unsigned char *)pem;
	pd.size = (unsigned)strlen(pem);
	assert_int_equal(gnutls_x509_crq_import(crq, &pd, GNUTLS_X509_FMT_PEM),
	                 0);
	assert_int_equal(gnutls_x509_crq_get_dn3(crq, &dn, 0), 0);
	assert_string_equal((char *)dn.data,
	                    "CN=amt.example.com,OU=IT,O=Example Corp,"
	                    "L=Springfield,ST=Illinois,C=US");
	assert_int_equal(gnutls_x509_crq_get_version(crq), 1);
	gnutls_free(dn.data);
	gnutls_x509_crq_deinit(crq);

	assert_int_equal(parse_exact(pem, strlen(pem), &info, &why), 0);
	assert_non_null(info);
	assert_string_equal(info->subject.common_name, "amt.example.com");
	assert_string_equal(info->subject.organization, "Example Corp");
	assert_string_equal(info->subject.organizational_unit, "IT");
	assert_string_equal(info->subject.locality, "Springfield");
	assert_string_equal(info->subject.state, "Illinois");
	assert_string_equal(info->subject.country, "US");
	/* The CN is added as the first SAN. */
	assert_int_equal(info->san_count, 3);
	assert_string_equal(info->san[0], "amt.example.com");
	assert_string_equal(info->san[1], "b.example.com");
	assert_string_equal(info->san[2], "c.example.com");
	assert_string_equal(info->key_algorithm, "rsa");
	assert_int_equal(info->key_bits, 2048);
	assert_string_equal(info->sig_algorithm, "RSA-SHA256");
	assert_string_equal(info->spki_sha256, spki);
	assert_string_equal(info->pem, pem);
	pki_csr_info_free(info);
	free(pem);
	pki_subject_clear(&subj);
}

/* Values come back as set, not RFC 4514-escaped; UTF-8 survives. */
static void
test_csr_subject_special_chars(void **state)
{
	static const char *const values[] = {
		"Beispiel & S\xc3\xb6hne, GmbH",
		"#1 \"Best\" Co; <x>+\\y",
		" leading and trailing ",
		"M\xc3\xbcnchen",
		"\\",
	};
	char spki[PKI_SHA256_HEX_LEN + 1];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		struct pki_subject subj =
		    subject_make("amt.example.com", values[i], values[i],
		                 values[i], values[i], NULL);
		struct pki_csr_info *info = NULL;
		const char *why = NULL;
		char *pem = make_csr(&subj, NULL, 0, spki);

		assert_int_equal(parse_exact(pem, strlen(pem), &info, &why), 0);
		assert_string_equal(info->subject.organization, values[i]);
		assert_string_equal(info->subject.organizational_unit,
		                    values[i]);
		assert_string_equal(info->subject.locality, values[i]);
		assert_string_equal(info->subject.state, values[i]);
		pki_csr_info_free(info);
		free(pem);
		pki_subject_clear(&subj);
	}
}

static void
test_csr_cn_among_sans(void **state)
{
	struct pki_subject subj =
	    subject_make("amt.example.com", NULL, NULL, NULL, NULL, NULL);
	const char *const san[] = { "x.example.com", "AMT.EXAMPLE.COM" };
	char spki[PKI_SHA256_HEX_LEN + 1];
	struct pki_csr_info *info = NULL;
	const char *why = NULL;
	char *pem;

	(void)state;
	pem = make_csr(&subj, san, ARRAY_LEN(san), spki);
	assert_int_equal(parse_exact(pem, strlen(pem), &info, &why), 0);
	/* Case-insensitively present already: not added again. */
	assert_int_equal(info->san_count, 2);
	assert_string_equal(info->san[0], "x.example.com");
	assert_string_equal(info->san[1], "AMT.EXAMPLE.COM");
	pki_csr_info_free(info);
	free(pem);
	pki_subject_clear(&subj);
}

static void
test_csr_minimal_subject(void **state)
{
	struct pki_subject subj =
	    subject_make("amt.example.com", "", NULL, NULL, NULL, "");
	char spki[PKI_SHA256_HEX_LEN + 1];
	struct pki_csr_info *info = NULL;
	const char *why = NULL;
	char *pem;

	(void)state;
	pem = make_csr(&subj, NULL, 0, spki);
	assert_int_equal(parse_exact(pem, strlen(pem), &info, &why), 0);
	assert_string_equal(info->subject.common_name, "amt.example.com");
	assert_null(info->subject.organization);
	assert_null(info->subject.organizational_unit);
	assert_null(info->subject.locality);
	assert_null(info->subject.state);
	assert_null(info->subject.country);
	assert_int_equal(info->san_count, 1);
	assert_string_equal(info->san[0], "amt.example.com");
	pki_csr_info_free(info);
	free(pem);
	pki_subject_clear(&subj);
}

static void
test_csr_create_refuses(void **state)
{
	struct pki_subject good =
	    subject_make("amt.example.com", NULL, NULL, NULL, NULL, NULL);
	struct pki_subject empty_cn =
	    subject_make("", "X", NULL, NULL, NULL, NULL);
	struct pki_subject null_cn =
	    subject_make(NULL, "X", NULL, NULL, NULL, NULL);
	const char *const bad_san[] = { "a.example.com", "" };
	const char *const null_san[] = { NULL };
	unsigned char junk[64];
	struct pki_secret bad_key = { junk, sizeof(junk) };
	struct pki_secret empty_key = { NULL, 0 };
	char spki[PKI_SHA256_HEX_LEN + 1] = "untouched";
	char *pem = (char *)(uintptr_t)0x1;

	(void)state;
	memset(junk, 0x30, sizeof(junk));
	assert_int_equal(pki_csr_create(NULL, &good, NULL, 0, &pem, spki),
	                 ERR_INVALID);
	assert_int_equal(pki_csr_create(&empty_key, &good, NULL, 0, &pem, spki),
	                 ERR_INVALID);
	assert_int_equal(pki_csr_create(&bad_key, &good, NULL, 0, &pem, spki),
	                 ERR_INVALID);
	assert_int_equal(pki_csr_create(g_key, NULL, NULL, 0, &pem, spki),
	                 ERR_INVALID);
	assert_int_equal(pki_csr_create(g_key, &empty_cn, NULL, 0, &pem, spki),
	                 ERR_INVALID);
	assert_int_equal(pki_csr_create(g_key, &null_cn, NULL, 0, &pem, spki),
	                 ERR_INVALID);
	assert_int_equal(pki_csr_create(g_key, &good, NULL, 1, &pem, spki),
	                 ERR_INVALID);
	assert_int_equal(pki_csr_create(g_key, &good, bad_san, 2, &pem, spki),
	                 ERR_INVALID);
	assert_int_equal(pki_csr_create(g_key, &good, null_san, 1, &pem, spki),
	                 ERR_INVALID);
	assert_ptr_equal(pem, (char *)(uintptr_t)0x1);
	assert_string_equal(spki, "untouched");
	pki_subject_clear(&good);
	pki_subject_clear(&empty_cn);
	pki_subject_clear(&null_cn);
}

static void
test_csr_parse_iis_style(void **state)
{
	struct pki_subject subj = subject_make("rcs.example.com", "Example",
	                                       NULL, NULL, "Texas", "US");
	char spki[PKI_SHA256_HEX_LEN + 1];
	struct pki_csr_info *info = NULL;
	const char *why = NULL;
	char *pem, *a, *b, *iis;

	(void)state;
	pem = make_csr(&subj, NULL, 0, spki);
	a = str_replace_all(pem, "CERTIFICATE REQUEST",
	                    "NEW CERTIFICATE REQUEST");
	b = str_replace_all(a, "\n", "\r\n");
	iis = str_concat3("Request saved by IIS Manager\r\n"
	                  "-----BEGIN CERTIFICATE-----\r\n\r\n",
	                  b, "\r\ntrailing junk -----END CERTIFICATE-----\r\n");
	assert_non_null(strstr(iis, "-----BEGIN NEW CERTIFICATE REQUEST-----"
	                            "\r\n"));

	assert_int_equal(parse_exact(iis, strlen(iis), &info, &why), 0);
	assert_string_equal(info->subject.common_name, "rcs.example.com");
	assert_string_equal(info->subject.state, "Texas");
	assert_string_equal(info->spki_sha256, spki);
	/* Normalized: standard header, LF, identical bytes. */
	assert_string_equal(info->pem, pem);
	pki_csr_info_free(info);
	free(iis);
	free(b);

	/* Body on one line, no newline after the END marker. */
	b = str_replace_all(a, "\n", "");
	assert_int_equal(parse_exact(b, strlen(b), &info, &why), 0);
	assert_string_equal(info->spki_sha256, spki);
	pki_csr_info_free(info);
	free(b);
	free(a);
	free(pem);
	pki_subject_clear(&subj);
}

static void
test_csr_parse_openssl_ecdsa(void **state)
{
	/* openssl req -utf8 -new -newkey ec -pkeyopt
	 * ec_paramgen_curve:P-256 -subj "/C=DE/ST=Bayern/L=M\u00fcnchen/
	 * O=Beispiel GmbH/CN=amt.beispiel.de" -addext "subjectAltName=
	 * DNS:amt.beispiel.de,IP:10.0.0.1,DNS:x.beispiel.de" */
	static const char pem[] =
	    "-----BEGIN CERTIFICATE REQUEST-----\n"
	    "MIIBYjCCAQcCAQAwYzELMAkGA1UEBhMCREUxDzANBgNVBAgMBkJheWVybjERMA8G\n"
	    "A1UEBwwITcO8bmNoZW4xFjAUBgNVBAoMDUJlaXNwaWVsIEdtYkgxGDAWBgNVBAMM\n"
	    "D2FtdC5iZWlzcGllbC5kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABIGbO8+4\n"
	    "lITlGUyReJ9ASNKm2tmEqCLqeCbMpxgmthge9INZNGn7WtmcvwDRWUfU6L4F7b7Q\n"
	    "5WrVzKmpXMhwLEqgQjBABgkqhkiG9w0BCQ4xMzAxMC8GA1UdEQQoMCaCD2FtdC5i\n"
	    "ZWlzcGllbC5kZYcECgAAAYINeC5iZWlzcGllbC5kZTAKBggqhkjOPQQDAgNJADBG\n"
	    "AiEAoi9kWFjwoBKnskn3hdsQVjw52B9PXajQAkOrfXXZC6cCIQCuqhou0ZGWkDA0\n"
	    "OBrbqP4hFi2vpGtfDU8Uj1RXWGr4jw==\n"
	    "-----END CERTIFICATE REQUEST-----\n";
	struct pki_csr_info *info = NULL;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse_exact(pem, strlen(pem), &info, &why), 0);
	assert_string_equal(info->subject.common_name, "amt.beispiel.de");
	assert_string_equal(info->subject.organization, "Beispiel GmbH");
	assert_null(info->subject.organizational_unit);
	assert_string_equal(info->subject.locality, "M\xc3\xbcnchen");
	assert_string_equal(info->subject.state, "Bayern");
	assert_string_equal(info->subject.country, "DE");
	/* The iPAddress SAN is skipped. */
	assert_int_equal(info->san_count, 2);
	assert_string_equal(info->san[0], "amt.beispiel.de");
	assert_string_equal(info->san[1], "x.beispiel.de");
	assert_string_equal(info->key_algorithm, "ecdsa");
	assert_int_equal(info->key_bits, 256);
	assert_string_equal(info->sig_algorithm, "ECDSA-SHA256");
	/* openssl req -pubkey | openssl pkey -pubin -outform DER | sha256 */
	assert_string_equal(
	    info->spki_sha256,
	    "efa1645e2fccef9c03ed3eb92d663092b5df8eb7d3866d85704d1e03fba8d71f");
	assert_string_equal(info->pem, pem);
	pki_csr_info_free(info);
}

/* Flips one byte of the DER of pem at offset off (from the end if < 0). */
static char *
tamper_der(const char *pem, long off, unsigned char mask)
{
	gnutls_datum_t der = { NULL, 0 };
	size_t at;
	char *out;

	pem_to_der(pem, &der);
	at = off < 0 ? der.size - (size_t)(-off) : (size_t)off;
	der.data[at] ^= mask;
	out = der_to_pem(&der);
	gnutls_free(der.data);
	return out;
}

static void
test_csr_parse_tampered(void **state)
{
	struct pki_subject subj =
	    subject_make("amt.example.com", NULL, NULL, NULL, NULL, NULL);
	char spki[PKI_SHA256_HEX_LEN + 1];
	struct pki_csr_info *info = INFO_SENTINEL;
	const char *why = NULL;
	gnutls_datum_t der = { NULL, 0 };
	char *pem, *bad;
	long cn_at = -1;

	(void)state;
	pem = make_csr(&subj, NULL, 0, spki);

	/* A bit of the signature value. */
	bad = tamper_der(pem, -1, 0x01);
	assert_int_equal(parse_exact(bad, strlen(bad), &info, &why),
	                 ERR_INVALID);
	assert_string_equal(why, "CSR signature does not verify");
	assert_ptr_equal(info, INFO_SENTINEL);
	free(bad);

	/* A letter of the CN inside the signed part. */
	pem_to_der(pem, &der);
	for (size_t i = 0; i + 15 <= der.size; i++) {
		if (memcmp(der.data + i, "amt.example.com", 15) == 0) {
			cn_at = (long)i;
			break;
		}
	}
	gnutls_free(der.data);
	assert_true(cn_at >= 0);
	bad = tamper_der(pem, cn_at, 'a' ^ 'b');
	why = NULL;
	assert_int_equal(parse_exact(bad, strlen(bad), &info, &why),
	                 ERR_INVALID);
	assert_string_equal(why, "CSR signature does not verify");
	assert_ptr_equal(info, INFO_SENTINEL);
	free(bad);
	free(pem);
	pki_subject_clear(&subj);
}

static void
test_csr_parse_garbage(void **state)
{
	static const char nul_input[] =
	    "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\0"
	    "\n-----END CERTIFICATE REQUEST-----\n";
	static const struct {
		const char *in;
		const char *why;
	} cases[] = {
		{ "", "no CERTIFICATE REQUEST PEM block found" },
		{ "hello world", "no CERTIFICATE REQUEST PEM block found" },
		{ "-----BEGIN CERTIFICATE-----\nMIIB\n"
		  "-----END CERTIFICATE-----\n",
		  "no CERTIFICATE REQUEST PEM block found" },
		{ "-----BEGIN CERTIFICATE REQUEST----",
		  "no CERTIFICATE REQUEST PEM block found" },
		{ "-----BEGIN CERTIFICATE REQUEST-----\nMIIB",
		  "CERTIFICATE REQUEST PEM block has no matching END line" },
		{ "-----BEGIN NEW CERTIFICATE REQUEST-----\nMAA=\n"
		  "-----END CERTIFICATE REQUEST-----\n",
		  "CERTIFICATE REQUEST PEM block has no matching END line" },
		{ "-----BEGIN CERTIFICATE REQUEST-----\n"
		  "-----END CERTIFICATE REQUEST-----\n",
		  "CSR PEM body is not valid base64" },
		{ "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n"
		  "-----END CERTIFICATE REQUEST-----\n",
		  "CSR PEM body is not valid base64" },
		{ "-----BEGIN CERTIFICATE REQUEST-----\nQQ=\n"
		  "-----END CERTIFICATE REQUEST-----\n",
		  "CSR PEM body is not valid base64" },
		{ "-----BEGIN CERTIFICATE REQUEST-----\nQ===\n"
		  "-----END CERTIFICATE REQUEST-----\n",
		  "CSR PEM body is not valid base64" },
		{ "-----BEGIN CERTIFICATE REQUEST-----\nQQ==QUFB\n"
		  "-----END CERTIFICATE REQUEST-----\n",
		  "CSR PEM body is not valid base64" },
		{ "-----BEGIN CERTIFICATE REQUEST-----\nProc-Type: "
		  "4,ENCRYPTED\n"
		  "MAA=\n-----END CERTIFICATE REQUEST-----\n",
		  "CSR PEM body is not valid base64" },
		{ "-----BEGIN CERTIFICATE REQUEST-----\naGVsbG8gd29ybGQ=\n"
		  "-----END CERTIFICATE REQUEST-----\n",
		  "CSR is not valid DER" },
		{ "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n"
		  "-----END CERTIFICATE REQUEST-----\n",
		  "CSR is not valid DER" },
		/* SEQUENCE claiming 0x7f bytes but holding 1 */
		{ "-----BEGIN CERTIFICATE REQUEST-----\nMH8A\n"
		  "-----END CERTIFICATE REQUEST-----\n",
		  "CSR is not valid DER" },
		/* trailing byte after an (empty) SEQUENCE */
		{ "-----BEGIN CERTIFICATE REQUEST-----\nMAAA\n"
		  "-----END CERTIFICATE REQUEST-----\n",
		  "CSR is not valid DER" },
		/* SEQUENCE { INTEGER 0 } */
		{ "-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQA=\n"
		  "-----END CERTIFICATE REQUEST-----\n",
		  "CSR is not valid DER" },
	};
	struct pki_csr_info *info = INFO_SENTINEL;
	const char *why;
	char *big;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		why = NULL;
		assert_int_equal(
		    parse_exact(cases[i].in, strlen(cases[i].in), &info, &why),
		    ERR_INVALID);
		if (!why || strcmp(why, cases[i].why) != 0)
			fail_msg("case %zu: why = \"%s\", want \"%s\"", i,
			         why ? why : "(null)", cases[i].why);
		assert_ptr_equal(info, INFO_SENTINEL);
	}

	why = NULL;
	assert_int_equal(
	    parse_exact(nul_input, sizeof(nul_input) - 1, &info, &why),
	    ERR_INVALID);
	assert_string_equal(why, "CSR input contains a NUL byte");

	why = NULL;
	big = malloc(2u << 20);
	assert_non_null(big);
	memset(big, 'A', 2u << 20);
	assert_int_equal(pki_csr_parse(big, 2u << 20, &info, &why),
	                 ERR_INVALID);
	assert_string_equal(why, "CSR input is too large");
	free(big);

	assert_int_equal(pki_csr_parse(NULL, 10, &info, &why), ERR_INVALID);
	/* why is optional. */
	assert_int_equal(pki_csr_parse("junk", 4, &info, NULL), ERR_INVALID);
	assert_ptr_equal(info, INFO_SENTINEL);
}

/* Truncations and byte flips of a valid CSR: no crash, only 0/ERR_INVALID. */
static void
test_csr_parse_mutations(void **state)
{
	struct pki_subject subj =
	    subject_make("amt.example.com", "Example", NULL, NULL, NULL, NULL);
	const char *const san[] = { "b.example.com" };
	char spki[PKI_SHA256_HEX_LEN + 1];
	struct pki_csr_info *info;
	gnutls_datum_t der = { NULL, 0 };
	const char *why;
	size_t len, accepted = 0;
	char *pem;
	int ret;

	(void)state;
	pem = make_csr(&subj, san, 1, spki);
	len = strlen(pem);
	for (size_t cut = 0; cut < len; cut++) {
		info = NULL;
		why = NULL;
		ret = parse_exact(pem, cut, &info, &why);
		if (ret == 0) {
			/* Only cuts inside the final "-----\n" can work. */
			assert_true(cut >= len - 1);
			pki_csr_info_free(info);
			continue;
		}
		assert_int_equal(ret, ERR_INVALID);
		assert_non_null(why);
	}

	pem_to_der(pem, &der);
	for (size_t i = 0; i < der.size; i++) {
		char *bad;

		der.data[i] ^= 0x80;
		bad = der_to_pem(&der);
		der.data[i] ^= 0x80;
		info = NULL;
		why = NULL;
		ret = parse_exact(bad, strlen(bad), &info, &why);
		free(bad);
		if (ret == 0) {
			/* Only the outer signatureAlgorithm is unsigned (its
			 * parameters are an ANY): the signed content must be
			 * what we made. */
			accepted++;
			assert_string_equal(info->spki_sha256, spki);
			assert_string_equal(info->subject.common_name,
			                    "amt.example.com");
			pki_csr_info_free(info);
			continue;
		}
		assert_int_equal(ret, ERR_INVALID);
		assert_non_null(why);
	}
	assert_true(accepted <= 2);
	gnutls_free(der.data);
	free(pem);
	pki_subject_clear(&subj);
}

/* ---- seal ------------------------------------------------------------- */

static const unsigned char seal_key[PKI_MASTER_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
	0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static void
expect_unseal_fails(const unsigned char *key, const char *aad,
                    const unsigned char *ct, size_t ct_len)
{
	struct pki_secret *out = SECRET_SENTINEL;
	unsigned char *copy = malloc(ct_len ? ct_len : 1);

	assert_non_null(copy);
	if (ct_len)
		memcpy(copy, ct, ct_len);
	assert_int_equal(pki_unseal(key, aad, copy, ct_len, &out), ERR_CRYPTO);
	assert_ptr_equal(out, SECRET_SENTINEL);
	free(copy);
}

static void
test_seal_roundtrip(void **state)
{
	unsigned char *ct = NULL, *ct2 = NULL;
	size_t ct_len = 0, ct2_len = 0;
	struct pki_secret *out = NULL;

	(void)state;
	assert_int_equal(
	    pki_seal(seal_key, "ord_1", g_key->data, g_key->len, &ct, &ct_len),
	    0);
	assert_int_equal(ct_len, 1 + 12 + g_key->len + 16);
	assert_int_equal(ct[0], 1);
	assert_true(memcmp(ct + 13, g_key->data, g_key->len) != 0);

	assert_int_equal(pki_unseal(seal_key, "ord_1", ct, ct_len, &out), 0);
	assert_int_equal(out->len, g_key->len);
	assert_memory_equal(out->data, g_key->data, g_key->len);
	pki_secret_free(out);

	/* Random nonce: the same input seals differently. */
	assert_int_equal(pki_seal(seal_key, "ord_1", g_key->data, g_key->len,
	                          &ct2, &ct2_len),
	                 0);
	assert_int_equal(ct2_len, ct_len);
	assert_true(memcmp(ct + 1, ct2 + 1, 12) != 0);
	assert_true(memcmp(ct, ct2, ct_len) != 0);
	free(ct2);
	free(ct);
}

static void
test_seal_empty(void **state)
{
	unsigned char *ct = NULL;
	size_t ct_len = 0;
	struct pki_secret *out = NULL;

	(void)state;
	assert_int_equal(pki_seal(seal_key, "", NULL, 0, &ct, &ct_len), 0);
	assert_int_equal(ct_len, 29);
	assert_int_equal(pki_unseal(seal_key, "", ct, ct_len, &out), 0);
	assert_int_equal(out->len, 0);
	pki_secret_free(out);
	expect_unseal_fails(seal_key, "x", ct, ct_len);
	free(ct);
}

static void
test_seal_wrong_key_or_aad(void **state)
{
	static const unsigned char pt[] = "secret key bytes";
	unsigned char other[PKI_MASTER_KEY_LEN];
	unsigned char *ct = NULL;
	size_t ct_len = 0;

	(void)state;
	assert_int_equal(
	    pki_seal(seal_key, "ord_1", pt, sizeof(pt), &ct, &ct_len), 0);
	memcpy(other, seal_key, sizeof(other));
	other[31] ^= 0x01;
	expect_unseal_fails(other, "ord_1", ct, ct_len);
	/* The blob of order 1 does not open as order 2's. */
	expect_unseal_fails(seal_key, "ord_2", ct, ct_len);
	expect_unseal_fails(seal_key, "ord_1 ", ct, ct_len);
	expect_unseal_fails(seal_key, "", ct, ct_len);
	free(ct);
}

static void
test_seal_tampered(void **state)
{
	static const unsigned char pt[] = "secret key bytes";
	unsigned char *ct = NULL, *longer;
	size_t ct_len = 0;

	(void)state;
	assert_int_equal(
	    pki_seal(seal_key, "ord_1", pt, sizeof(pt), &ct, &ct_len), 0);
	/* Every truncation. */
	for (size_t n = 0; n < ct_len; n++)
		expect_unseal_fails(seal_key, "ord_1", ct, n);
	/* Every byte, version, nonce, ciphertext and tag. */
	for (size_t i = 0; i < ct_len; i++) {
		ct[i] ^= 0x01;
		expect_unseal_fails(seal_key, "ord_1", ct, ct_len);
		ct[i] ^= 0x01;
	}
	/* An extra byte. */
	longer = malloc(ct_len + 1);
	assert_non_null(longer);
	memcpy(longer, ct, ct_len);
	longer[ct_len] = 0;
	expect_unseal_fails(seal_key, "ord_1", longer, ct_len + 1);
	free(longer);
	free(ct);
}

static void
test_seal_bad_args(void **state)
{
	unsigned char *ct = (unsigned char *)(uintptr_t)0x1;
	size_t ct_len = 7;
	struct pki_secret *out = SECRET_SENTINEL;

	(void)state;
	assert_int_equal(
	    pki_seal(NULL, "a", (const unsigned char *)"x", 1, &ct, &ct_len),
	    ERR_INVALID);
	assert_int_equal(pki_seal(seal_key, NULL, (const unsigned char *)"x", 1,
	                          &ct, &ct_len),
	                 ERR_INVALID);
	assert_int_equal(pki_seal(seal_key, "a", NULL, 1, &ct, &ct_len),
	                 ERR_INVALID);
	assert_ptr_equal(ct, (unsigned char *)(uintptr_t)0x1);
	assert_int_equal(ct_len, 7);
	assert_int_equal(
	    pki_unseal(seal_key, NULL, (const unsigned char *)"x", 1, &out),
	    ERR_INVALID);
	assert_ptr_equal(out, SECRET_SENTINEL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_idempotent),
		cmocka_unit_test(test_sha256_hex),
		cmocka_unit_test(test_fqdn_table),
		cmocka_unit_test(test_country_codes),
		cmocka_unit_test(test_state_abbreviations),
		cmocka_unit_test(test_suffix_rules),
		cmocka_unit_test(test_key_generate_2048),
		cmocka_unit_test(test_key_generate_3072),
		cmocka_unit_test(test_key_generate_refuses),
		cmocka_unit_test(test_csr_roundtrip),
		cmocka_unit_test(test_csr_subject_special_chars),
		cmocka_unit_test(test_csr_cn_among_sans),
		cmocka_unit_test(test_csr_minimal_subject),
		cmocka_unit_test(test_csr_create_refuses),
		cmocka_unit_test(test_csr_parse_iis_style),
		cmocka_unit_test(test_csr_parse_openssl_ecdsa),
		cmocka_unit_test(test_csr_parse_tampered),
		cmocka_unit_test(test_csr_parse_garbage),
		cmocka_unit_test(test_csr_parse_mutations),
		cmocka_unit_test(test_seal_roundtrip),
		cmocka_unit_test(test_seal_empty),
		cmocka_unit_test(test_seal_wrong_key_or_aad),
		cmocka_unit_test(test_seal_tampered),
		cmocka_unit_test(test_seal_bad_args),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
