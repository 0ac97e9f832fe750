/*
 * test_intake.c: unit tests of pki_intake_add() (pki/intake.c).
 *
 * Every input is made at test time: self-signed certificates, a CSR,
 * PKCS#7 and PKCS#12 with GnuTLS, zips with libarchive's writer, and a few
 * files with the openssl tool where its output is the point (interop).
 * Inputs are always fed as exact-size heap copies, so ASan catches any read
 * past the length given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "pki/pki.h"

#include <archive.h>
#include <archive_entry.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIB          ((size_t)1024 * 1024)
#define NCERTS       4

struct blob {
	unsigned char *data;
	size_t len;
};

/* The limits the API passes (see the report): 10 MiB per upload... */
static const struct pki_intake_limits LIM = {
	.max_input = 10 * MIB,
	.max_total = 32 * MIB,
	.max_entries = 256,
	.max_ratio = 100,
	.max_depth = 2,
	.max_certs = 64,
};

/* Four self-signed certificates and their keys (ECDSA P-256: fast). */
static gnutls_x509_privkey_t g_key[NCERTS];
static gnutls_x509_crt_t g_crt[NCERTS];
static struct blob g_der[NCERTS];
static struct blob g_pem[NCERTS];
static char g_sha[NCERTS][PKI_SHA256_HEX_LEN + 1];
static struct blob g_csr_der, g_csr_pem;
static struct blob g_key_pem; /* PKCS#8 PEM of g_key[3] */
/* GnuTLS-made PKCS#12: certs 0 and 1 + key 0 under "secret"; cert 2 +
 * key 2 under the empty password; certs 0 and 3 + key 3 in 3DES; cert 1
 * + key 1 (in the clear) under the NULL password. */
static struct blob g_p12, g_p12_empty, g_p12_3des, g_p12_null;
static char g_tmp[256];

/* ---- helpers ---------------------------------------------------------- */

static void
blob_free(struct blob *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static void
blob_add(struct blob *b, const void *data, size_t len)
{
	unsigned char *p = realloc(b->data, b->len + len + 1);

	assert_non_null(p);
	if (len)
		memcpy(p + b->len, data, len);
	b->data = p;
	b->len += len;
	b->data[b->len] = 0; /* handy for strstr on text; not counted */
}

static void
blob_adds(struct blob *b, const char *s)
{
	blob_add(b, s, strlen(s));
}

static struct blob
blob_from_datum(const gnutls_datum_t *d)
{
	struct blob b = { NULL, 0 };

	blob_add(&b, d->data, d->size);
	return b;
}

/* pki_intake_add() on an exact-size heap copy. */
static int
intake(struct pki_bundle *b, const void *data, size_t len, const char *name,
       const char *password, const struct pki_intake_limits *lim,
       const char **why)
{
	unsigned char *copy = malloc(len ? len : 1);
	int ret;

	assert_non_null(copy);
	if (len)
		memcpy(copy, data, len);
	ret = pki_intake_add(b, copy, len, name, password, lim, why);
	free(copy);
	return ret;
}

static int
intake_blob(struct pki_bundle *b, const struct blob *in, const char *name,
            const char *password, const char **why)
{
	return intake(b, in->data, in->len, name, password, &LIM, why);
}

/* Which of g_crt the found certificate i is, or -1. */
static int
cert_index(const struct pki_bundle *b, size_t i)
{
	assert_true(i < b->count);
	for (int k = 0; k < NCERTS; k++) {
		if (strcmp(b->certs[i].sha256, g_sha[k]) == 0) {
			assert_int_equal(b->certs[i].der_len, g_der[k].len);
			assert_memory_equal(b->certs[i].der, g_der[k].data,
			                    g_der[k].len);
			/* found parsed, for the caller to take */
			assert_non_null(b->certs[i].cert);
			assert_string_equal(b->certs[i].cert->sha256,
			                    b->certs[i].sha256);
			return k;
		}
	}
	return -1;
}

static void
assert_cert(const struct pki_bundle *b, size_t i, int k, const char *source,
            const char *format)
{
	assert_int_equal(cert_index(b, i), k);
	assert_string_equal(b->certs[i].source, source);
	assert_string_equal(b->certs[i].format, format);
}

/* Asserts g_crt[k] was found with that source and format, wherever. */
static void
assert_has_cert(const struct pki_bundle *b, int k, const char *source,
                const char *format)
{
	for (size_t i = 0; i < b->count; i++) {
		if (cert_index(b, i) == k) {
			assert_string_equal(b->certs[i].source, source);
			assert_string_equal(b->certs[i].format, format);
			return;
		}
	}
	fail_msg("certificate %d not found", k);
}

/* The note about source whose message contains part, or NULL. */
static const struct pki_intake_note *
find_note(const struct pki_bundle *b, const char *source, const char *part)
{
	for (size_t i = 0; i < b->note_count; i++) {
		if (strcmp(b->notes[i].source, source) == 0 &&
		    strstr(b->notes[i].message, part))
			return &b->notes[i];
	}
	return NULL;
}

static char *
b64_encode(const unsigned char *in, size_t len, size_t width, const char *eol)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
	    "wxyz0123456789+/";
	size_t cap = (len + 2) / 3 * 4 * 2 + 16, o = 0, col = 0;
	char *out = malloc(cap);

	assert_non_null(out);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		char q[4];

		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		q[0] = a[(v >> 18) & 63];
		q[1] = a[(v >> 12) & 63];
		q[2] = i + 1 < len ? a[(v >> 6) & 63] : '=';
		q[3] = i + 2 < len ? a[v & 63] : '=';
		for (int k = 0; k < 4; k++) {
			if (width && col == width) {
				for (const char *e = eol; *e; e++)
					out[o++] = *e;
				col = 0;
			}
			out[o++] = q[k];
			col++;
		}
	}
	out[o] = '\0';
	return out;
}

/* text with every "\n" turned into "\r\n". */
static void
blob_add_crlf(struct blob *b, const struct blob *text)
{
	for (size_t i = 0; i < text->len; i++) {
		if (text->data[i] == '\n')
			blob_adds(b, "\r\n");
		else
			blob_add(b, &text->data[i], 1);
	}
}

struct zip_item {
	const char *path;
	const void *data; /* NULL: len zero bytes */
	size_t len;
	unsigned type; /* 0: regular file */
	const char *link;
};

/* A deflated zip of items; with passphrase, ZipCrypto-encrypted. */
static bool
make_zip(const struct zip_item *items, size_t n, const char *passphrase,
         struct blob *out)
{
	static const unsigned char zeros[1 << 16];
	struct archive *a = archive_write_new();
	size_t cap = 1 * MIB, used = 0;
	bool ok = false;

	for (size_t i = 0; i < n; i++)
		cap += (items[i].data ? items[i].len : 0) + 1024;
	out->data = malloc(cap);
	out->len = 0;
	assert_non_null(a);
	assert_non_null(out->data);
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_zip_set_compression_deflate(a),
	                 ARCHIVE_OK);
	if (passphrase &&
	    (archive_write_set_options(a, "zip:encryption=zipcrypt") !=
	         ARCHIVE_OK ||
	     archive_write_set_passphrase(a, passphrase) != ARCHIVE_OK))
		goto cleanup;
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1),
	                 ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, out->data, cap, &used),
	                 ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		unsigned type = items[i].type ? items[i].type : AE_IFREG;

		assert_non_null(e);
		archive_entry_set_pathname(e, items[i].path);
		archive_entry_set_filetype(e, type);
		archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
		archive_entry_set_mtime(e, 1700000000, 0);
		if (type == AE_IFLNK)
			archive_entry_set_symlink(e, items[i].link);
		archive_entry_set_size(
		    e, type == AE_IFREG ? (la_int64_t)items[i].len : 0);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		for (size_t off = 0; type == AE_IFREG && off < items[i].len;) {
			size_t k = items[i].len - off;
			const void *p;

			if (items[i].data) {
				p = (const unsigned char *)items[i].data + off;
			} else {
				p = zeros;
				if (k > sizeof(zeros))
					k = sizeof(zeros);
			}
			assert_int_equal(archive_write_data(a, p, k),
			                 (la_ssize_t)k);
			off += k;
		}
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	out->len = used;
	ok = true;
cleanup:
	archive_write_free(a);
	if (!ok)
		blob_free(out);
	return ok;
}

static void
zip_blob(const struct zip_item *items, size_t n, struct blob *out)
{
	assert_true(make_zip(items, n, NULL, out));
}

/* PKCS#7 SignedData holding g_crt[idx[0..n)], DER or PEM. */
static struct blob
make_pkcs7(const int *idx, size_t n, gnutls_x509_crt_fmt_t fmt)
{
	gnutls_pkcs7_t p7;
	gnutls_datum_t d;
	struct blob out;

	assert_int_equal(gnutls_pkcs7_init(&p7), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(gnutls_pkcs7_set_crt(p7, g_crt[idx[i]]), 0);
	assert_int_equal(gnutls_pkcs7_export2(p7, fmt, &d), 0);
	out = blob_from_datum(&d);
	gnutls_free(d.data);
	gnutls_pkcs7_deinit(p7);
	return out;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes data to g_tmp/name; returns the path (static buffer). */
static const char *
write_tmp(const char *name, const void *data, size_t len)
{
	static char path[2][512];
	static int which;
	char *p = path[which++ & 1];
	FILE *f;

	snprintf(p, sizeof(path[0]), "%s/%s", g_tmp, name);
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return p;
}

/* Runs a shell command; its stdout in out. false when it failed. */
static bool
run_capture(const char *cmd, struct blob *out)
{
	unsigned char buf[4096];
	FILE *f = popen(cmd, "r");
	size_t n;

	out->data = NULL;
	out->len = 0;
	if (!f)
		return false;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		blob_add(out, buf, n);
	if (pclose(f) != 0 || out->len == 0) {
		blob_free(out);
		return false;
	}
	return true;
}

/* ---- fixtures --------------------------------------------------------- */

static int
make_cert(int i)
{
	unsigned char serial[2] = { 0x01, (unsigned char)i };
	char cn[64];
	gnutls_datum_t d;

	snprintf(cn, sizeof(cn), "intake test %d", i);
	if (gnutls_x509_privkey_init(&g_key[i]) < 0 ||
	    gnutls_x509_privkey_generate(
	        g_key[i], GNUTLS_PK_ECDSA,
	        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crt_init(&g_crt[i]) < 0 ||
	    gnutls_x509_crt_set_version(g_crt[i], 3) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(g_crt[i], GNUTLS_OID_X520_COMMON_NAME,
	                                  0, cn, (unsigned)strlen(cn)) < 0 ||
	    gnutls_x509_crt_set_serial(g_crt[i], serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(g_crt[i], 1700000000) < 0 ||
	    gnutls_x509_crt_set_expiration_time(g_crt[i], 1900000000) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(g_crt[i], i == 0, -1) < 0 ||
	    gnutls_x509_crt_set_key(g_crt[i], g_key[i]) < 0 ||
	    gnutls_x509_crt_sign2(g_crt[i], g_crt[i], g_key[i],
	                          GNUTLS_DIG_SHA256, 0) < 0)
		return -1;
	if (gnutls_x509_crt_export2(g_crt[i], GNUTLS_X509_FMT_DER, &d) < 0)
		return -1;
	g_der[i] = blob_from_datum(&d);
	gnutls_free(d.data);
	if (gnutls_x509_crt_export2(g_crt[i], GNUTLS_X509_FMT_PEM, &d) < 0)
		return -1;
	g_pem[i] = blob_from_datum(&d);
	gnutls_free(d.data);
	return pki_sha256_hex(g_der[i].data, g_der[i].len, g_sha[i]);
}

static int
make_csr(void)
{
	gnutls_x509_crq_t crq;
	gnutls_datum_t d;
	int ret = -1;

	if (gnutls_x509_crq_init(&crq) < 0)
		return -1;
	if (gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0,
	                                  "amt.example.com", 15) < 0 ||
	    gnutls_x509_crq_set_key(crq, g_key[3]) < 0 ||
	    gnutls_x509_crq_sign2(crq, g_key[3], GNUTLS_DIG_SHA256, 0) < 0)
		goto cleanup;
	if (gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &d) < 0)
		goto cleanup;
	g_csr_der = blob_from_datum(&d);
	gnutls_free(d.data);
	if (gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &d) < 0)
		goto cleanup;
	g_csr_pem = blob_from_datum(&d);
	gnutls_free(d.data);
	if (gnutls_x509_privkey_export2_pkcs8(g_key[3], GNUTLS_X509_FMT_PEM,
	                                      NULL, GNUTLS_PKCS_PLAIN, &d) < 0)
		goto cleanup;
	g_key_pem = blob_from_datum(&d);
	gnutls_free(d.data);
	ret = 0;
cleanup:
	gnutls_x509_crq_deinit(crq);
	return ret;
}

/* A PKCS#12: one encrypted bag of certificates, one shrouded key bag,
 * a SHA-256 MAC; all under pass. With pass NULL the key bag is plain. */
static int
make_p12(const char *pass, const int *crts, size_t n, int key, unsigned schema,
         struct blob *out)
{
	gnutls_pkcs12_t p12 = NULL;
	gnutls_pkcs12_bag_t cbag = NULL, kbag = NULL;
	gnutls_datum_t d;
	int ret = -1;

	if (gnutls_pkcs12_init(&p12) < 0 || gnutls_pkcs12_bag_init(&cbag) < 0 ||
	    gnutls_pkcs12_bag_init(&kbag) < 0)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		if (gnutls_pkcs12_bag_set_crt(cbag, g_crt[crts[i]]) < 0)
			goto cleanup;
	}
	if (gnutls_pkcs12_bag_encrypt(cbag, pass, schema) < 0 ||
	    gnutls_pkcs12_set_bag(p12, cbag) < 0)
		goto cleanup;
	if (gnutls_pkcs12_bag_set_privkey(kbag, g_key[key], pass,
	                                  pass ? schema : GNUTLS_PKCS_PLAIN) <
	        0 ||
	    gnutls_pkcs12_set_bag(p12, kbag) < 0)
		goto cleanup;
	if (gnutls_pkcs12_generate_mac2(p12, GNUTLS_MAC_SHA256, pass) < 0 ||
	    gnutls_pkcs12_export2(p12, GNUTLS_X509_FMT_DER, &d) < 0)
		goto cleanup;
	*out = blob_from_datum(&d);
	gnutls_free(d.data);
	ret = 0;
cleanup:
	if (kbag)
		gnutls_pkcs12_bag_deinit(kbag);
	if (cbag)
		gnutls_pkcs12_bag_deinit(cbag);
	if (p12)
		gnutls_pkcs12_deinit(p12);
	return ret;
}

static int
group_setup(void **state)
{
	static const int c01[] = { 0, 1 }, c1[] = { 1 }, c2[] = { 2 },
	                 c03[] = { 0, 3 };
	const char *base = getenv("AMTCERTD_TEST_TMP");

	(void)state;
	if (pki_init() != 0)
		return -1;
	for (int i = 0; i < NCERTS; i++) {
		if (make_cert(i) != 0)
			return -1;
	}
	if (make_csr() != 0)
		return -1;
	if (make_p12("secret", c01, 2, 0, GNUTLS_PKCS_PBES2_AES_256, &g_p12) ||
	    make_p12("", c2, 1, 2, GNUTLS_PKCS_PBES2_AES_256, &g_p12_empty) ||
	    make_p12("compat", c03, 2, 3, GNUTLS_PKCS_PKCS12_3DES,
	             &g_p12_3des) ||
	    make_p12(NULL, c1, 1, 1, GNUTLS_PKCS_PKCS12_3DES, &g_p12_null))
		return -1;
	if (!base || !*base)
		base = "/tmp";
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(g_tmp, sizeof(g_tmp), "%s/test_intake.XXXXXX", base);
	return mkdtemp(g_tmp) ? 0 : -1;
}

static int
group_teardown(void **state)
{
	static const char *const files[] = { "a.pem",    "b.pem", "key.pem",
		                             "c.pem",    "x.p7b", "y.p12",
		                             "chain.pem" };
	char path[600];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", g_tmp, files[i]);
		unlink(path);
	}
	rmdir(g_tmp);
	for (int i = 0; i < NCERTS; i++) {
		gnutls_x509_crt_deinit(g_crt[i]);
		gnutls_x509_privkey_deinit(g_key[i]);
		blob_free(&g_der[i]);
		blob_free(&g_pem[i]);
	}
	blob_free(&g_csr_der);
	blob_free(&g_csr_pem);
	blob_free(&g_key_pem);
	blob_free(&g_p12);
	blob_free(&g_p12_empty);
	blob_free(&g_p12_3des);
	blob_free(&g_p12_null);
	pki_deinit();
	return 0;
}

/* ---- PEM, DER, base64 ------------------------------------------------- */

static void
test_pem_single(void **state)
{
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_pem[0], "leaf.pem", NULL, &why), 0);
	assert_null(why);
	assert_int_equal(b.count, 1);
	assert_int_equal(b.duplicates, 0);
	assert_int_equal(b.note_count, 0);
	assert_null(b.key);
	assert_cert(&b, 0, 0, "leaf.pem", "pem");
	assert_int_equal(b.total, g_pem[0].len);
	pki_bundle_clear(&b);
	assert_int_equal(b.count, 0);
	assert_null(b.certs);
	pki_bundle_clear(&b); /* twice is fine */
	pki_bundle_clear(NULL);
}

static void
test_pem_many_crlf_junk(void **state)
{
	struct blob lf = { NULL, 0 }, crlf = { NULL, 0 };
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	blob_adds(&lf, "Dear customer,\nhere are your certificates.\n\n");
	blob_add(&lf, g_pem[0].data, g_pem[0].len); /* #1 */
	blob_adds(&lf, "Intermediate:\n");
	blob_add(&lf, g_pem[1].data, g_pem[1].len);   /* #2 */
	blob_add(&lf, g_csr_pem.data, g_csr_pem.len); /* #3 */
	blob_add(&lf, g_key_pem.data, g_key_pem.len); /* #4 */
	blob_adds(&lf, "  ");
	blob_add(&lf, g_pem[2].data, g_pem[2].len); /* #5 */
	blob_adds(&lf, "-----BEGIN X509 CRL-----\nAAAA\n"
	               "-----END X509 CRL-----\n"); /* #6 */
	blob_add(&lf, g_pem[0].data, g_pem[0].len); /* #7, again */
	blob_adds(&lf, "-- \nThe support team\n");
	blob_add_crlf(&crlf, &lf);

	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &crlf, "chain.pem", NULL, &why), 0);
	assert_int_equal(b.count, 3);
	assert_int_equal(b.duplicates, 1);
	assert_cert(&b, 0, 0, "chain.pem", "pem");
	assert_cert(&b, 1, 1, "chain.pem#2", "pem");
	assert_cert(&b, 2, 2, "chain.pem#5", "pem");
	assert_int_equal(b.note_count, 2);
	assert_non_null(find_note(&b, "chain.pem#3", "(CSR), not a cert"));
	assert_non_null(find_note(&b, "chain.pem#6", "\"X509 CRL\""));
	/* The key is read, like a PKCS#12's: never dropped with a note. */
	assert_non_null(b.key);
	assert_string_equal(b.key_source, "chain.pem#4");
	assert_string_equal(b.key_format, "pem");
	pki_bundle_clear(&b);

	/* The same text with LF endings reads the same. */
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &lf, "chain.pem", NULL, &why), 0);
	assert_int_equal(b.count, 3);
	pki_bundle_clear(&b);
	blob_free(&lf);
	blob_free(&crlf);
}

static void
test_pem_special_labels(void **state)
{
	static const unsigned char aux[] = { 0x30, 0x0c, 0x30, 0x0a, 0x06,
		                             0x08, 0x2b, 0x06, 0x01, 0x05,
		                             0x05, 0x07, 0x03, 0x01 };
	static const int idx[] = { 1, 2 };
	struct blob der = { NULL, 0 }, text = { NULL, 0 }, p7;
	struct pki_bundle b;
	const char *why = NULL;
	char *b64;

	(void)state;
	/* OpenSSL's TRUSTED CERTIFICATE: the certificate + trust settings. */
	blob_add(&der, g_der[0].data, g_der[0].len);
	blob_add(&der, aux, sizeof(aux));
	b64 = b64_encode(der.data, der.len, 64, "\n");
	blob_adds(&text, "-----BEGIN TRUSTED CERTIFICATE-----\n");
	blob_adds(&text, b64);
	blob_adds(&text, "\n-----END TRUSTED CERTIFICATE-----\n");
	free(b64);
	/* A PKCS#7 labelled CERTIFICATE (CAs do that). */
	p7 = make_pkcs7(idx, 2, GNUTLS_X509_FMT_DER);
	b64 = b64_encode(p7.data, p7.len, 76, "\n");
	blob_adds(&text, "-----BEGIN CERTIFICATE-----\n");
	blob_adds(&text, b64);
	blob_adds(&text, "\n-----END CERTIFICATE-----\n");
	free(b64);

	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &text, "t.pem", NULL, &why), 0);
	assert_int_equal(b.count, 3);
	assert_cert(&b, 0, 0, "t.pem", "pem");
	/* DER sorts a SET OF: the order in a PKCS#7 is not ours. */
	assert_has_cert(&b, 1, "t.pem#2", "pkcs7");
	assert_has_cert(&b, 2, "t.pem#2", "pkcs7");
	pki_bundle_clear(&b);
	blob_free(&der);
	blob_free(&text);
	blob_free(&p7);
}

/* Notes are capped (100), the last one saying so; certificates are not. */
static void
test_many_notes(void **state)
{
	struct blob text = { NULL, 0 };
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	for (int i = 0; i < 150; i++)
		blob_adds(&text, "-----BEGIN X509 CRL-----\nAAAA\n"
		                 "-----END X509 CRL-----\n");
	blob_add(&text, g_pem[3].data, g_pem[3].len);
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &text, "crls.pem", NULL, &why), 0);
	assert_int_equal(b.count, 1);
	assert_cert(&b, 0, 3, "crls.pem#151", "pem");
	assert_int_equal(b.note_count, 100);
	assert_non_null(find_note(&b, "crls.pem#99", "X509 CRL"));
	assert_string_equal(b.notes[99].message, "more notes were left out");
	pki_bundle_clear(&b);
	blob_free(&text);
}

static void
test_der_cert(void **state)
{
	struct blob der = { NULL, 0 };
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_der[1], "leaf.cer", NULL, &why), 0);
	assert_int_equal(b.count, 1);
	assert_cert(&b, 0, 1, "leaf.cer", "der");
	pki_bundle_clear(&b);

	/* A line break some tools append is tolerated... */
	blob_add(&der, g_der[1].data, g_der[1].len);
	blob_adds(&der, "\r\n");
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &der, NULL, NULL, &why), 0);
	assert_cert(&b, 0, 1, "upload", "der");
	pki_bundle_clear(&b);
	/* ...other trailing bytes are not. */
	blob_adds(&der, "junk");
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &der, NULL, NULL, &why), ERR_INVALID);
	assert_non_null(why);
	assert_int_equal(b.count, 0);
	pki_bundle_clear(&b);
	blob_free(&der);
}

/*
 * A certificate GnuTLS reads is found whether or not pki_cert_parse()
 * reads it too; parsed only when it does (the caller reports the rest).
 */
static void
test_found_parsed_or_not(void **state)
{
	size_t len = g_der[1].len, parsed = 0, unparsed = 0;
	unsigned char *copy = malloc(len);

	(void)state;
	assert_non_null(copy);
	for (size_t i = 0; i < len; i++) {
		struct pki_bundle b;
		struct pki_cert *c = NULL;
		const char *why = NULL;
		int ret;

		memcpy(copy, g_der[1].data, len);
		copy[i] ^= 0x01;
		pki_bundle_init(&b);
		ret = intake(&b, copy, len, "m.cer", NULL, &LIM, &why);
		if (ret == 0) {
			bool reads = pki_cert_parse(copy, len, &c, NULL) == 0;

			assert_int_equal(b.count, 1);
			assert_int_equal(b.certs[0].cert != NULL, reads);
			if (reads)
				assert_string_equal(b.certs[0].cert->sha256,
				                    c->sha256);
			parsed += reads;
			unparsed += !reads;
		}
		pki_cert_free(c);
		pki_bundle_clear(&b);
	}
	assert_true(parsed > 0);
	assert_true(unparsed > 0);
	free(copy);
}

static void
test_base64_bare(void **state)
{
	static const int idx[] = { 0, 1, 2 };
	struct blob p7 = make_pkcs7(idx, 3, GNUTLS_X509_FMT_DER);
	struct pki_bundle b;
	const char *why = NULL;
	char *s;

	(void)state;
	/* Wrapped at 64 columns with CRLF, and surrounded by blank lines. */
	s = b64_encode(g_der[2].data, g_der[2].len, 64, "\r\n");
	pki_bundle_init(&b);
	assert_int_equal(intake(&b, s, strlen(s), "leaf.b64", NULL, &LIM, &why),
	                 0);
	assert_int_equal(b.count, 1);
	assert_cert(&b, 0, 2, "leaf.b64", "base64");
	pki_bundle_clear(&b);
	free(s);

	/* One long line, padding stripped. */
	s = b64_encode(g_der[3].data, g_der[3].len, 0, "");
	while (s[strlen(s) - 1] == '=')
		s[strlen(s) - 1] = '\0';
	pki_bundle_init(&b);
	assert_int_equal(intake(&b, s, strlen(s), NULL, NULL, &LIM, &why), 0);
	assert_cert(&b, 0, 3, "upload", "base64");
	pki_bundle_clear(&b);
	free(s);

	/* Base64 of a PKCS#7 (what some CA APIs return). */
	s = b64_encode(p7.data, p7.len, 76, "\n");
	pki_bundle_init(&b);
	assert_int_equal(intake(&b, s, strlen(s), "p7.txt", NULL, &LIM, &why),
	                 0);
	assert_int_equal(b.count, 3);
	assert_has_cert(&b, 0, "p7.txt", "pkcs7");
	assert_has_cert(&b, 1, "p7.txt", "pkcs7");
	assert_has_cert(&b, 2, "p7.txt", "pkcs7");
	pki_bundle_clear(&b);
	free(s);

	/* Base64 of something else is refused. */
	s = b64_encode((const unsigned char *)"hello, world", 12, 0, "");
	pki_bundle_init(&b);
	assert_int_equal(intake(&b, s, strlen(s), NULL, NULL, &LIM, &why),
	                 ERR_INVALID);
	assert_non_null(strstr(why, "expected a certificate"));
	pki_bundle_clear(&b);
	free(s);
	blob_free(&p7);
}

/* ---- PKCS#7 ----------------------------------------------------------- */

static void
test_pkcs7_gnutls(void **state)
{
	static const int idx[] = { 2, 0, 1 };
	struct blob der = make_pkcs7(idx, 3, GNUTLS_X509_FMT_DER);
	struct blob pem = make_pkcs7(idx, 3, GNUTLS_X509_FMT_PEM);
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	assert_non_null(strstr((char *)pem.data, "BEGIN PKCS7"));
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &der, "chain.p7b", NULL, &why), 0);
	assert_int_equal(b.count, 3);
	for (size_t i = 0; i < 3; i++)
		assert_has_cert(&b, idx[i], "chain.p7b", "pkcs7");
	/* The same certificates again, in PEM: all duplicates. */
	assert_int_equal(intake_blob(&b, &pem, "chain.p7c", NULL, &why), 0);
	assert_int_equal(b.count, 3);
	assert_int_equal(b.duplicates, 3);
	pki_bundle_clear(&b);

	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &pem, "chain.p7c", NULL, &why), 0);
	assert_int_equal(b.count, 3);
	for (size_t i = 0; i < 3; i++)
		assert_has_cert(&b, idx[i], "chain.p7c", "pkcs7");
	pki_bundle_clear(&b);
	blob_free(&der);
	blob_free(&pem);
}

static void
test_pkcs7_openssl(void **state)
{
	struct blob chain = { NULL, 0 }, out;
	struct pki_bundle b;
	const char *why = NULL, *path;
	char cmd[1200];

	(void)state;
	blob_add(&chain, g_pem[3].data, g_pem[3].len);
	blob_add(&chain, g_pem[1].data, g_pem[1].len);
	path = write_tmp("chain.pem", chain.data, chain.len);

	snprintf(cmd, sizeof(cmd),
	         "openssl crl2pkcs7 -nocrl -certfile '%s' 2>/dev/null", path);
	assert_true(run_capture(cmd, &out));
	assert_non_null(strstr((char *)out.data, "-----BEGIN PKCS7-----"));
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &out, "ossl.p7b", NULL, &why), 0);
	assert_int_equal(b.count, 2);
	assert_has_cert(&b, 3, "ossl.p7b", "pkcs7");
	assert_has_cert(&b, 1, "ossl.p7b", "pkcs7");
	pki_bundle_clear(&b);
	blob_free(&out);

	snprintf(cmd, sizeof(cmd),
	         "openssl crl2pkcs7 -nocrl -certfile '%s' -outform DER "
	         "2>/dev/null",
	         path);
	assert_true(run_capture(cmd, &out));
	assert_int_equal(out.data[0], 0x30);
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &out, "ossl.p7b", NULL, &why), 0);
	assert_int_equal(b.count, 2);
	assert_has_cert(&b, 3, "ossl.p7b", "pkcs7");
	assert_has_cert(&b, 1, "ossl.p7b", "pkcs7");
	pki_bundle_clear(&b);
	blob_free(&out);
	blob_free(&chain);
}

/* ---- PKCS#12 ---------------------------------------------------------- */

/* The plain PKCS#8 DER of g_key[k]: what b->key must hold. */
static void
assert_key_is(const struct pki_bundle *b, int k)
{
	gnutls_datum_t d;

	assert_non_null(b->key);
	assert_int_equal(
	    gnutls_x509_privkey_export2_pkcs8(g_key[k], GNUTLS_X509_FMT_DER,
	                                      NULL, GNUTLS_PKCS_PLAIN, &d),
	    0);
	assert_int_equal(b->key->len, d.size);
	assert_memory_equal(b->key->data, d.data, d.size);
	gnutls_free(d.data);
}

/*
 * b->key is a plain PKCS#8 of the same key as g_key[k] (openssl re-encodes
 * keys, so the bytes may differ): same private scalar, same public point.
 */
static void
assert_same_key(const struct pki_bundle *b, int k)
{
	gnutls_x509_privkey_t key;
	gnutls_datum_t d, x[2], y[2], s[2];
	gnutls_ecc_curve_t curve[2];

	assert_non_null(b->key);
	d.data = b->key->data;
	d.size = (unsigned)b->key->len;
	assert_int_equal(gnutls_x509_privkey_init(&key), 0);
	assert_int_equal(
	    gnutls_x509_privkey_import_pkcs8(key, &d, GNUTLS_X509_FMT_DER, NULL,
	                                     GNUTLS_PKCS_PLAIN),
	    0);
	assert_int_equal(gnutls_x509_privkey_export_ecc_raw(
	                     key, &curve[0], &x[0], &y[0], &s[0]),
	                 0);
	assert_int_equal(gnutls_x509_privkey_export_ecc_raw(
	                     g_key[k], &curve[1], &x[1], &y[1], &s[1]),
	                 0);
	assert_int_equal(curve[0], curve[1]);
	assert_int_equal(s[0].size, s[1].size);
	assert_memory_equal(s[0].data, s[1].data, s[0].size);
	assert_int_equal(x[0].size, x[1].size);
	assert_memory_equal(x[0].data, x[1].data, x[0].size);
	for (int i = 0; i < 2; i++) {
		gnutls_free(x[i].data);
		gnutls_free(y[i].data);
		gnutls_free(s[i].data);
	}
	gnutls_x509_privkey_deinit(key);
}

static void
test_p12_right_password(void **state)
{
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_p12, "bundle.pfx", "secret", &why),
	                 0);
	assert_int_equal(b.count, 2);
	assert_has_cert(&b, 0, "bundle.pfx", "pkcs12");
	assert_has_cert(&b, 1, "bundle.pfx", "pkcs12");
	assert_key_is(&b, 0);
	assert_string_equal(b.key_source, "bundle.pfx");
	assert_int_equal(b.note_count, 0);
	pki_bundle_clear(&b);
	assert_null(b.key);

	/* 3DES + SHA-1 KDF, as the "compat" export profile writes it. */
	pki_bundle_init(&b);
	assert_int_equal(
	    intake_blob(&b, &g_p12_3des, "compat.p12", "compat", &why), 0);
	assert_int_equal(b.count, 2);
	assert_has_cert(&b, 0, "compat.p12", "pkcs12");
	assert_has_cert(&b, 3, "compat.p12", "pkcs12");
	assert_key_is(&b, 3);
	pki_bundle_clear(&b);
}

static void
test_p12_wrong_or_missing_password(void **state)
{
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_p12, "bundle.pfx", "Secret", &why),
	                 ERR_PASSWORD);
	assert_string_equal(why, "the PKCS#12 password is wrong");
	pki_bundle_clear(&b);

	why = NULL;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_p12, "bundle.pfx", NULL, &why),
	                 ERR_PASSWORD);
	assert_string_equal(why, "this PKCS#12 needs a password");
	pki_bundle_clear(&b);

	/* "" is a password too: wrong for this file. */
	why = NULL;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_p12, "bundle.pfx", "", &why),
	                 ERR_PASSWORD);
	assert_string_equal(why, "the PKCS#12 password is wrong");
	pki_bundle_clear(&b);

	/* In a zip the password problem is still the answer. */
	{
		struct zip_item items[] = {
			{ "leaf.pem", g_pem[0].data, g_pem[0].len, 0, NULL },
			{ "bundle.pfx", g_p12.data, g_p12.len, 0, NULL },
		};
		struct blob zip;

		zip_blob(items, ARRAY_LEN(items), &zip);
		why = NULL;
		pki_bundle_init(&b);
		assert_int_equal(intake_blob(&b, &zip, "d.zip", NULL, &why),
		                 ERR_PASSWORD);
		assert_string_equal(why, "this PKCS#12 needs a password");
		pki_bundle_clear(&b);
		pki_bundle_init(&b);
		assert_int_equal(intake_blob(&b, &zip, "d.zip", "secret", &why),
		                 0);
		assert_int_equal(b.count, 2);
		assert_cert(&b, 0, 0, "d.zip!leaf.pem", "pem");
		assert_has_cert(&b, 1, "d.zip!bundle.pfx", "pkcs12");
		assert_string_equal(b.key_source, "d.zip!bundle.pfx");
		pki_bundle_clear(&b);
		blob_free(&zip);
	}
}

static void
test_p12_empty_password(void **state)
{
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_p12_empty, "e.p12", NULL, &why), 0);
	assert_int_equal(b.count, 1);
	assert_cert(&b, 0, 2, "e.p12", "pkcs12");
	assert_key_is(&b, 2);
	pki_bundle_clear(&b);

	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_p12_empty, "e.p12", "", &why), 0);
	assert_int_equal(b.count, 1);
	pki_bundle_clear(&b);

	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_p12_empty, "e.p12", "x", &why),
	                 ERR_PASSWORD);
	assert_string_equal(why, "the PKCS#12 password is wrong");
	pki_bundle_clear(&b);
}

/* PKCS#12 tells the NULL password (no bytes) from "" (two NUL bytes);
 * without a password both are tried. Here the key bag is not encrypted. */
static void
test_p12_null_password(void **state)
{
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_p12_null, "n.pfx", NULL, &why), 0);
	assert_int_equal(b.count, 1);
	assert_cert(&b, 0, 1, "n.pfx", "pkcs12");
	assert_key_is(&b, 1);
	pki_bundle_clear(&b);

	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_p12_null, "n.pfx", "", &why),
	                 ERR_PASSWORD);
	assert_string_equal(why, "the PKCS#12 password is wrong");
	pki_bundle_clear(&b);
}

static void
test_p12_second_key_is_a_note(void **state)
{
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_p12, "one.pfx", "secret", &why), 0);
	assert_int_equal(intake_blob(&b, &g_p12_empty, "two.pfx", NULL, &why),
	                 0);
	assert_int_equal(b.count, 3);
	assert_key_is(&b, 0);
	assert_string_equal(b.key_source, "one.pfx");
	assert_non_null(find_note(&b, "two.pfx", "only the first one"));
	pki_bundle_clear(&b);
}

/* PKCS#12 made by openssl: AES (OpenSSL 3's default), 3DES, RC2-40 (old
 * Windows exports; needs OpenSSL's legacy provider), "". */
static void
test_p12_openssl(void **state)
{
	static const struct {
		const char *opts;
		const char *pass; /* given to intake */
		bool optional;    /* skipped when openssl cannot make it */
	} cases[] = {
		{ "-passout pass:secret", "secret", false },
		{ "-passout pass:secret -certpbe PBE-SHA1-3DES "
		  "-keypbe PBE-SHA1-3DES -macalg sha1",
		  "secret", false },
		{ "-passout pass:secret -legacy", "secret", true },
		{ "-passout pass:", NULL, false },
	};
	struct pki_bundle b;
	const char *why = NULL, *cert, *chain;
	char cmd[2048], keypath[600];
	gnutls_datum_t d;

	(void)state;
	assert_int_equal(
	    gnutls_x509_privkey_export2_pkcs8(g_key[1], GNUTLS_X509_FMT_PEM,
	                                      NULL, GNUTLS_PKCS_PLAIN, &d),
	    0);
	snprintf(keypath, sizeof(keypath), "%s",
	         write_tmp("key.pem", d.data, d.size));
	gnutls_free(d.data);
	cert = write_tmp("b.pem", g_pem[1].data, g_pem[1].len);
	chain = write_tmp("a.pem", g_pem[0].data, g_pem[0].len);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct blob out;

		snprintf(cmd, sizeof(cmd),
		         "openssl pkcs12 -export -in '%s' -inkey '%s' "
		         "-certfile '%s' -name leaf %s 2>/dev/null",
		         cert, keypath, chain, cases[i].opts);
		if (!run_capture(cmd, &out)) {
			assert_true(cases[i].optional);
			print_message("openssl could not make: %s\n",
			              cases[i].opts);
			continue;
		}
		pki_bundle_init(&b);
		why = NULL;
		assert_int_equal(
		    intake_blob(&b, &out, "ossl.pfx", cases[i].pass, &why), 0);
		assert_int_equal(b.count, 2);
		assert_true(cert_index(&b, 0) >= 0 && cert_index(&b, 1) >= 0);
		assert_int_equal(cert_index(&b, 0) + cert_index(&b, 1), 1);
		assert_same_key(&b, 1);
		pki_bundle_clear(&b);
		if (cases[i].pass) {
			pki_bundle_init(&b);
			assert_int_equal(
			    intake_blob(&b, &out, "ossl.pfx", "nope", &why),
			    ERR_PASSWORD);
			pki_bundle_clear(&b);
		}
		blob_free(&out);
	}
	unlink(keypath);
}

/* Content length of the DER element at p; *hdr its header size. */
static size_t
der_len_at(const unsigned char *p, size_t *hdr)
{
	size_t v = 0;

	if (p[1] < 0x80) {
		*hdr = 2;
		return p[1];
	}
	*hdr = 2 + (p[1] & 0x7fu);
	for (size_t i = 0; i < (p[1] & 0x7fu); i++)
		v = (v << 8) | p[2 + i];
	return v;
}

static void
put_header(struct blob *out, unsigned char tag, size_t len)
{
	unsigned char h[4] = { tag, 0, 0, 0 };
	size_t n = 1;

	if (len < 0x80) {
		h[n++] = (unsigned char)len;
	} else if (len < 0x100) {
		h[n++] = 0x81;
		h[n++] = (unsigned char)len;
	} else {
		h[n++] = 0x82;
		h[n++] = (unsigned char)(len >> 8);
		h[n++] = (unsigned char)len;
	}
	blob_add(out, h, n);
}

/*
 * in with its MAC iteration count (the INTEGER that ends a PFX) set to
 * iter, or re-encoded unchanged when iter is 0.
 */
static struct blob
p12_with_mac_iter(const struct blob *in, uint32_t iter)
{
	const unsigned char *p = in->data, *ver, *auth, *mac, *it;
	size_t hdr, ohdr, vlen, alen, dlen, slen, mhdr, ilen;
	struct blob macd = { NULL, 0 }, body = { NULL, 0 }, out = { NULL, 0 };
	unsigned char enc[5];
	size_t n = 0, skip = 0;

	der_len_at(p, &ohdr);
	ver = p + ohdr;
	vlen = der_len_at(ver, &hdr) + hdr;
	auth = ver + vlen;
	alen = der_len_at(auth, &hdr) + hdr;
	mac = auth + alen;
	der_len_at(mac, &mhdr);
	dlen = der_len_at(mac + mhdr, &hdr) + hdr;        /* DigestInfo */
	slen = der_len_at(mac + mhdr + dlen, &hdr) + hdr; /* salt */
	it = mac + mhdr + dlen + slen;
	assert_int_equal(it[0], 0x02);
	ilen = der_len_at(it, &hdr);
	if (iter == 0) {
		for (size_t i = 0; i < ilen; i++)
			iter = (iter << 8) | it[hdr + i];
	}
	/* Minimal two's complement, positive. */
	enc[n++] = (unsigned char)(iter >> 24);
	enc[n++] = (unsigned char)(iter >> 16);
	enc[n++] = (unsigned char)(iter >> 8);
	enc[n++] = (unsigned char)iter;
	while (skip < 3 && enc[skip] == 0 && !(enc[skip + 1] & 0x80))
		skip++;
	blob_add(&macd, mac + mhdr, dlen + slen);
	put_header(&macd, 0x02, n - skip);
	blob_add(&macd, enc + skip, n - skip);
	blob_add(&body, ver, vlen + alen);
	put_header(&body, 0x30, macd.len);
	blob_add(&body, macd.data, macd.len);
	put_header(&out, 0x30, body.len);
	blob_add(&out, body.data, body.len);
	blob_free(&macd);
	blob_free(&body);
	return out;
}

static void
test_p12_kdf_budget(void **state)
{
	struct blob slow = p12_with_mac_iter(&g_p12, 0x7fffffff);
	struct pki_bundle b;
	const char *why = NULL;
	double t0 = now_seconds();

	(void)state;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &slow, "slow.pfx", "secret", &why),
	                 ERR_TOO_LARGE);
	assert_non_null(strstr(why, "key-derivation work"));
	pki_bundle_clear(&b);
	assert_true(now_seconds() - t0 < 2.0);
	blob_free(&slow);

	/* The rewriting itself is sound. */
	slow = p12_with_mac_iter(&g_p12, 0);
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &slow, "same.pfx", "secret", &why), 0);
	assert_int_equal(b.count, 2);
	pki_bundle_clear(&b);
	blob_free(&slow);
}

/* A MAC algorithm GnuTLS does not know (and, under ASan, no leak: GnuTLS
 * 3.7.9 leaks the OID there unless asked for it). */
static void
test_p12_unknown_mac(void **state)
{
	static const unsigned char sha256_oid[] = { 0x06, 0x09, 0x60, 0x86,
		                                    0x48, 0x01, 0x65, 0x03,
		                                    0x04, 0x02, 0x01 };
	struct blob odd = { NULL, 0 };
	struct pki_bundle b;
	const char *why = NULL;
	size_t at = 0;

	(void)state;
	blob_add(&odd, g_p12.data, g_p12.len);
	/* The last SHA-256 OID is the MAC's. */
	for (size_t i = 0; i + sizeof(sha256_oid) <= odd.len; i++) {
		if (memcmp(odd.data + i, sha256_oid, sizeof(sha256_oid)) == 0)
			at = i;
	}
	assert_true(at > 0);
	odd.data[at + sizeof(sha256_oid) - 1] = 0x7f;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &odd, "odd.pfx", "secret", &why),
	                 ERR_INVALID);
	assert_string_equal(why, "the PKCS#12 uses a MAC algorithm that is not "
	                         "supported");
	pki_bundle_clear(&b);
	blob_free(&odd);
}

/* ---- zip -------------------------------------------------------------- */

static void
test_zip_nested_folders(void **state)
{
	static const char readme[] = "Thank you for your order.\n";
	static const int idx[] = { 1, 2 };
	struct blob p7 = make_pkcs7(idx, 2, GNUTLS_X509_FMT_DER), zip;
	struct zip_item items[] = {
		{ "certs/", NULL, 0, AE_IFDIR, NULL },
		{ "certs/leaf.pem", g_pem[0].data, g_pem[0].len, 0, NULL },
		{ "certs/chain/", NULL, 0, AE_IFDIR, NULL },
		{ "certs/chain/inter.cer", g_der[1].data, g_der[1].len, 0,
		  NULL },
		{ "certs/chain/bundle.p7b", p7.data, p7.len, 0, NULL },
		{ "readme.txt", readme, strlen(readme), 0, NULL },
		{ "__MACOSX/certs/._leaf.pem", "\x00\x05\x16\x07", 4, 0, NULL },
		{ ".DS_Store", "\x00\x00\x00\x01", 4, 0, NULL },
		{ "certs/latest.pem", NULL, 0, AE_IFLNK, "leaf.pem" },
	};
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	zip_blob(items, ARRAY_LEN(items), &zip);
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &zip, "delivery.zip", NULL, &why), 0);
	assert_int_equal(b.count, 3);
	assert_int_equal(b.duplicates, 1);
	assert_cert(&b, 0, 0, "delivery.zip!certs/leaf.pem", "pem");
	assert_cert(&b, 1, 1, "delivery.zip!certs/chain/inter.cer", "der");
	assert_cert(&b, 2, 2, "delivery.zip!certs/chain/bundle.p7b", "pkcs7");
	/* Folders, __MACOSX and dotfiles pass quietly. */
	assert_int_equal(b.note_count, 2);
	assert_non_null(find_note(&b, "delivery.zip!readme.txt",
	                          "skipped: no certificate in it"));
	assert_non_null(
	    find_note(&b, "delivery.zip!certs/latest.pem", "symbolic link"));
	assert_true(b.total > zip.len);
	pki_bundle_clear(&b);
	blob_free(&zip);
	blob_free(&p7);
}

static void
test_zip_in_zip(void **state)
{
	struct zip_item inner_items[] = {
		{ "x/leaf.crt", g_der[2].data, g_der[2].len, 0, NULL },
	};
	struct blob inner, outer, outer2;
	struct pki_bundle b;
	struct pki_intake_limits lim = LIM;
	const char *why = NULL;

	(void)state;
	zip_blob(inner_items, 1, &inner);
	{
		struct zip_item items[] = {
			{ "root.pem", g_pem[0].data, g_pem[0].len, 0, NULL },
			{ "inner.zip", inner.data, inner.len, 0, NULL },
		};
		zip_blob(items, 2, &outer);
	}
	{
		struct zip_item items[] = {
			{ "outer.zip", outer.data, outer.len, 0, NULL },
		};
		zip_blob(items, 1, &outer2);
	}
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &outer, "o.zip", NULL, &why), 0);
	assert_int_equal(b.count, 2);
	assert_cert(&b, 0, 0, "o.zip!root.pem", "pem");
	assert_cert(&b, 1, 2, "o.zip!inner.zip!x/leaf.crt", "der");
	pki_bundle_clear(&b);

	/* Three levels with max_depth 2: refused; with 3: read. */
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &outer2, "o2.zip", NULL, &why),
	                 ERR_TOO_LARGE);
	assert_non_null(strstr(why, "nested"));
	pki_bundle_clear(&b);
	lim.max_depth = 3;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, outer2.data, outer2.len, "o2.zip", NULL, &lim, &why), 0);
	assert_int_equal(b.count, 2);
	assert_cert(&b, 1, 2, "o2.zip!outer.zip!inner.zip!x/leaf.crt", "der");
	pki_bundle_clear(&b);
	/* max_depth 0: no zip at all. */
	lim.max_depth = 0;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, inner.data, inner.len, "i.zip", NULL, &lim, &why),
	    ERR_TOO_LARGE);
	pki_bundle_clear(&b);
	blob_free(&inner);
	blob_free(&outer);
	blob_free(&outer2);
}

static void
test_duplicates_across_files(void **state)
{
	struct blob two = { NULL, 0 }, zip;
	struct zip_item items[] = {
		{ "a.pem", g_pem[0].data, g_pem[0].len, 0, NULL },
		{ "b.cer", g_der[1].data, g_der[1].len, 0, NULL },
		{ "c.cer", g_der[3].data, g_der[3].len, 0, NULL },
		{ "again/a.cer", g_der[0].data, g_der[0].len, 0, NULL },
	};
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	blob_add(&two, g_pem[0].data, g_pem[0].len);
	blob_add(&two, g_pem[1].data, g_pem[1].len);
	zip_blob(items, ARRAY_LEN(items), &zip);
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &two, "two.pem", NULL, &why), 0);
	assert_int_equal(intake_blob(&b, &zip, "d.zip", NULL, &why), 0);
	assert_int_equal(intake_blob(&b, &g_der[3], "c.der", NULL, &why), 0);
	assert_int_equal(b.count, 3);
	assert_int_equal(b.duplicates, 4);
	assert_cert(&b, 0, 0, "two.pem", "pem");
	assert_cert(&b, 1, 1, "two.pem#2", "pem");
	assert_cert(&b, 2, 3, "d.zip!c.cer", "der");
	/* The inputs, plus what the zip unpacked to. */
	assert_int_equal(b.total, two.len + zip.len + g_der[3].len +
	                              g_pem[0].len + g_der[1].len +
	                              g_der[3].len + g_der[0].len);
	pki_bundle_clear(&b);
	blob_free(&two);
	blob_free(&zip);
}

static void
test_zip_bomb(void **state)
{
	struct zip_item items[] = {
		{ "leaf.pem", g_pem[0].data, g_pem[0].len, 0, NULL },
		{ "bomb.pem", NULL, 50 * MIB, 0, NULL },
	};
	struct pki_intake_limits lim = LIM;
	struct pki_bundle b;
	const char *why = NULL;
	struct blob zip;
	double t0;

	(void)state;
	zip_blob(items, ARRAY_LEN(items), &zip);
	assert_true(zip.len < 200 * 1024);

	/* The ratio trips first (after ~100 x the archive's size). */
	t0 = now_seconds();
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &zip, "bomb.zip", NULL, &why),
	                 ERR_TOO_LARGE);
	assert_non_null(strstr(why, "zip bomb"));
	assert_true(b.total <= zip.len * 100 + zip.len);
	pki_bundle_clear(&b);
	assert_true(now_seconds() - t0 < 2.0);

	/* Without a ratio limit, max_total. */
	lim.max_ratio = UINT_MAX;
	lim.max_total = 5 * MIB;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, zip.data, zip.len, "bomb.zip", NULL, &lim, &why),
	    ERR_TOO_LARGE);
	assert_non_null(strstr(why, "unpacks to more than the size limit"));
	assert_true(b.total <= lim.max_total);
	pki_bundle_clear(&b);

	/* With a large max_total, one file over max_input. */
	lim.max_total = 100 * MIB;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, zip.data, zip.len, "bomb.zip", NULL, &lim, &why),
	    ERR_TOO_LARGE);
	assert_non_null(strstr(why, "a file in the zip archive is larger"));
	pki_bundle_clear(&b);

	/* The same bytes skipped as a dotfile are still counted. */
	items[1].path = "__MACOSX/._bomb";
	blob_free(&zip);
	zip_blob(items, ARRAY_LEN(items), &zip);
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &zip, "bomb.zip", NULL, &why),
	                 ERR_TOO_LARGE);
	pki_bundle_clear(&b);
	assert_true(now_seconds() - t0 < 10.0);
	blob_free(&zip);
}

static void
test_zip_too_many_entries(void **state)
{
	struct zip_item items[20];
	char names[20][16];
	struct pki_intake_limits lim = LIM;
	struct pki_bundle b;
	const char *why = NULL;
	struct blob zip;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(items); i++) {
		snprintf(names[i], sizeof(names[i]), "f%zu.pem", i);
		items[i] = (struct zip_item){ names[i], g_pem[i % NCERTS].data,
			                      g_pem[i % NCERTS].len, 0, NULL };
	}
	zip_blob(items, ARRAY_LEN(items), &zip);
	lim.max_entries = 19;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, zip.data, zip.len, "many.zip", NULL, &lim, &why),
	    ERR_TOO_LARGE);
	assert_non_null(strstr(why, "more files than allowed"));
	pki_bundle_clear(&b);
	lim.max_entries = 20;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, zip.data, zip.len, "many.zip", NULL, &lim, &why), 0);
	assert_int_equal(b.count, NCERTS);
	assert_int_equal(b.duplicates, 20 - NCERTS);
	pki_bundle_clear(&b);
	blob_free(&zip);
}

static void
test_zip_without_certificates(void **state)
{
	struct zip_item items[] = {
		{ "readme.txt", "hello\n", 6, 0, NULL },
		{ "empty.cer", "", 0, 0, NULL },
		{ "csr.pem", g_csr_pem.data, g_csr_pem.len, 0, NULL },
		{ "key.pem", g_key_pem.data, g_key_pem.len, 0, NULL },
	};
	struct pki_bundle b;
	const char *why = NULL;
	struct blob zip, empty = { NULL, 0 };

	(void)state;
	zip_blob(items, ARRAY_LEN(items), &zip);
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &zip, "z.zip", NULL, &why), 0);
	assert_int_equal(b.count, 0);
	assert_non_null(find_note(&b, "z.zip!readme.txt", "no certificate"));
	assert_non_null(find_note(&b, "z.zip!empty.cer", "the file is empty"));
	assert_non_null(find_note(&b, "z.zip!csr.pem", "(CSR)"));
	/* the key is taken (the caller decides whether it fits) */
	assert_non_null(b.key);
	assert_string_equal(b.key_source, "z.zip!key.pem");
	assert_int_equal(b.note_count, 3);
	pki_bundle_clear(&b);
	blob_free(&zip);

	/* An empty archive. */
	zip_blob(NULL, 0, &empty);
	assert_int_equal(empty.data[2], 5);
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &empty, "e.zip", NULL, &why), 0);
	assert_int_equal(b.count, 0);
	assert_int_equal(b.note_count, 1);
	pki_bundle_clear(&b);
	blob_free(&empty);
}

static void
test_zip_encrypted_entry(void **state)
{
	struct zip_item items[] = {
		{ "leaf.pem", g_pem[0].data, g_pem[0].len, 0, NULL },
	};
	struct pki_bundle b;
	const char *why = NULL;
	struct blob zip;

	(void)state;
	if (!make_zip(items, 1, "pw", &zip)) {
		skip();
		return;
	}
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &zip, "enc.zip", NULL, &why), 0);
	assert_int_equal(b.count, 0);
	assert_non_null(find_note(&b, "enc.zip!leaf.pem", "encrypted"));
	pki_bundle_clear(&b);
	blob_free(&zip);
}

/* A damaged zip inside a zip: what it added before failing is taken
 * back out, and it becomes one note. */
static void
test_zip_damaged_member_rolls_back(void **state)
{
	struct zip_item inner_items[] = {
		{ "first.cer", g_der[1].data, g_der[1].len, 0, NULL },
		{ "second.cer", g_der[2].data, g_der[2].len, 0, NULL },
	};
	struct blob inner, outer;
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	zip_blob(inner_items, 2, &inner);
	/* Cut 100 bytes into the second entry. */
	for (size_t i = 4; i + 4 < inner.len; i++) {
		if (memcmp(inner.data + i, "PK\x03\x04", 4) == 0) {
			inner.len = i + 100;
			break;
		}
	}
	{
		struct zip_item items[] = {
			{ "root.pem", g_pem[0].data, g_pem[0].len, 0, NULL },
			{ "inner.zip", inner.data, inner.len, 0, NULL },
		};
		zip_blob(items, 2, &outer);
	}
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &outer, "o.zip", NULL, &why), 0);
	assert_int_equal(b.count, 1);
	assert_cert(&b, 0, 0, "o.zip!root.pem", "pem");
	assert_int_equal(b.note_count, 1);
	assert_non_null(
	    find_note(&b, "o.zip!inner.zip", "damaged or truncated"));
	pki_bundle_clear(&b);

	/* At top level the damaged zip is an error. */
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &inner, "i.zip", NULL, &why),
	                 ERR_INVALID);
	assert_string_equal(why, "the zip archive is damaged or truncated");
	pki_bundle_clear(&b);
	blob_free(&inner);
	blob_free(&outer);
}

/* ---- refusals --------------------------------------------------------- */

#define WHY_EXPECTED                                                       \
	"expected a certificate (PEM, DER or base64), a PKCS#7 (.p7b), a " \
	"PKCS#12 (.pfx/.p12) or a zip of these"

static void
test_garbage(void **state)
{
	static const struct {
		const char *in;
		const char *why;
	} cases[] = {
		{ "hello world", WHY_EXPECTED },
		{ "Dear customer, your certificate is attached.\n",
		  WHY_EXPECTED },
		{ "{\"certificate\": null}", WHY_EXPECTED },
		{ "MIIB", WHY_EXPECTED },
		{ "====", WHY_EXPECTED },
		{ "0\x80", WHY_EXPECTED },
		{ "-----BEGIN CERTIFICATE-----\nnot base64!\n"
		  "-----END CERTIFICATE-----\n",
		  "the PEM block is not valid base64" },
		{ "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
		  "the PEM block is not valid base64" },
		{ "-----BEGIN CERTIFICATE-----\nAAAA\n"
		  "-----END CERTIFICATE-----\n",
		  "the PEM block holds neither a certificate nor a PKCS#7" },
		{ "-----BEGIN CERTIFICATE-----\nMIIB\n"
		  "-----END CERTIFICATE-----\n",
		  "the PEM block holds neither a certificate nor a PKCS#7" },
		{ "-----BEGIN -----\n-----END -----\n",
		  "a PEM BEGIN line is malformed" },
		{ "-----BEGIN CERTIFICATE-----\n",
		  "a PEM block has no END line" },
		{ "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERT",
		  "a PEM END line is malformed" },
		{ "-----BEGIN CERTIFICATE----- -----END PKCS7-----",
		  "a PEM block's END line does not match its BEGIN line" },
		{ "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
		  "this PEM block is not a certificate" },
		{ "PK\x03\x04garbage",
		  "the zip archive is damaged or truncated" },
		{ "0\x03\x02\x01\x03", "the PKCS#12 is damaged" },
		{ "0\x03\x02\x01\x01", "this is a private key, not a "
		                       "certificate; upload a PKCS#12" },
		{ "0\x05\x06\x03\x2a\x03\x04",
		  "the PKCS#7 is damaged or is not SignedData" },
		{ "0\x04\x30\x02\x01\x01", "the certificate is damaged" },
		{ "0\x09\x30\x02\x01\x01", "the DER data is truncated" },
	};
	unsigned char rnd[4096];
	struct pki_bundle b;
	const char *why;
	unsigned s = 12345;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		why = NULL;
		pki_bundle_init(&b);
		assert_int_equal(intake(&b, cases[i].in, strlen(cases[i].in),
		                        "junk.txt", NULL, &LIM, &why),
		                 ERR_INVALID);
		assert_non_null(why);
		if (strcmp(why, cases[i].why) != 0)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, why,
			         cases[i].why);
		assert_int_equal(b.count, 0);
		pki_bundle_clear(&b);
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		s = s * 1103515245u + 12345u;
		rnd[i] = (unsigned char)(s >> 16);
	}
	rnd[0] = 0x42;
	why = NULL;
	pki_bundle_init(&b);
	assert_int_equal(intake(&b, rnd, sizeof(rnd), NULL, NULL, &LIM, &why),
	                 ERR_INVALID);
	assert_string_equal(why, WHY_EXPECTED);
	pki_bundle_clear(&b);
}

static void
test_truncated(void **state)
{
	static const int idx[] = { 0, 1 };
	struct blob p7 = make_pkcs7(idx, 2, GNUTLS_X509_FMT_DER), zip;
	struct zip_item items[] = {
		{ "a/leaf.pem", g_pem[0].data, g_pem[0].len, 0, NULL },
		{ "b/chain.p7b", p7.data, p7.len, 0, NULL },
	};
	const struct blob *inputs[5];
	struct pki_bundle b;
	const char *why;

	(void)state;
	zip_blob(items, ARRAY_LEN(items), &zip);
	inputs[0] = &g_pem[0];
	inputs[1] = &g_der[0];
	inputs[2] = &p7;
	inputs[3] = &zip;
	inputs[4] = &g_p12;
	/* Every prefix: never a crash, never a certificate that is not
	 * whole, never a success without a certificate (zips aside). */
	for (size_t k = 0; k < ARRAY_LEN(inputs); k++) {
		for (size_t n = 1; n < inputs[k]->len; n++) {
			int ret;

			why = NULL;
			pki_bundle_init(&b);
			ret = intake(&b, inputs[k]->data, n, "cut", "secret",
			             &LIM, &why);
			if (ret == 0) {
				for (size_t i = 0; i < b.count; i++)
					assert_true(cert_index(&b, i) >= 0);
				assert_true(b.count > 0 || k == 3);
			} else {
				assert_int_equal(ret, ERR_INVALID);
				assert_non_null(why);
			}
			pki_bundle_clear(&b);
		}
	}

	why = NULL;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, g_der[0].data, g_der[0].len - 1, NULL, NULL, &LIM, &why),
	    ERR_INVALID);
	assert_string_equal(why, "the DER data is truncated");
	pki_bundle_clear(&b);

	why = NULL;
	pki_bundle_init(&b);
	assert_int_equal(intake(&b, g_pem[0].data, g_pem[0].len - 27, NULL,
	                        NULL, &LIM, &why),
	                 ERR_INVALID);
	assert_string_equal(why, "a PEM block has no END line");
	pki_bundle_clear(&b);

	why = NULL;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, zip.data, zip.len / 2, NULL, NULL, &LIM, &why),
	    ERR_INVALID);
	assert_string_equal(why, "the zip archive is damaged or truncated");
	pki_bundle_clear(&b);

	why = NULL;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, g_p12.data, g_p12.len - 10, NULL, "secret", &LIM, &why),
	    ERR_INVALID);
	assert_non_null(why);
	pki_bundle_clear(&b);
	blob_free(&zip);
	blob_free(&p7);
}

/* Flipped bytes in every kind of input: no crash, sane results. */
static void
test_mutations(void **state)
{
	static const int idx[] = { 0, 1 };
	struct blob p7 = make_pkcs7(idx, 2, GNUTLS_X509_FMT_DER), zip;
	struct zip_item items[] = {
		{ "leaf.pem", g_pem[0].data, g_pem[0].len, 0, NULL },
		{ "chain.p7b", p7.data, p7.len, 0, NULL },
	};
	const struct blob *inputs[4];
	struct pki_bundle b;

	(void)state;
	zip_blob(items, ARRAY_LEN(items), &zip);
	inputs[0] = &g_pem[1];
	inputs[1] = &g_der[1];
	inputs[2] = &p7;
	inputs[3] = &zip;
	for (size_t k = 0; k < ARRAY_LEN(inputs); k++) {
		unsigned char *m = malloc(inputs[k]->len);

		assert_non_null(m);
		for (size_t i = 0; i < inputs[k]->len; i++) {
			const char *why = NULL;
			int ret;

			memcpy(m, inputs[k]->data, inputs[k]->len);
			m[i] ^= (unsigned char)((0x01u << (i % 8)) | 0x80u);
			pki_bundle_init(&b);
			ret = intake(&b, m, inputs[k]->len, "m", NULL, &LIM,
			             &why);
			assert_true(ret == 0 || ret == ERR_INVALID);
			assert_true(ret == 0 || why != NULL);
			pki_bundle_clear(&b);
		}
		free(m);
	}
	blob_free(&zip);
	blob_free(&p7);
}

static void
test_csr_only(void **state)
{
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	/* Documented: a CSR alone is refused (ERR_INVALID), not noted. */
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_csr_pem, "req.pem", NULL, &why),
	                 ERR_INVALID);
	assert_string_equal(
	    why, "this is a certificate request (CSR), not a certificate");
	pki_bundle_clear(&b);

	why = NULL;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_csr_der, "req.der", NULL, &why),
	                 ERR_INVALID);
	assert_string_equal(
	    why, "this is a certificate request (CSR), not a certificate");
	pki_bundle_clear(&b);

	why = NULL;
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_key_pem, "key.pem", NULL, &why), 0);
	assert_int_equal(b.count, 0);
	assert_non_null(b.key);
	assert_string_equal(b.key_format, "pem");
	pki_bundle_clear(&b);

	/* A key that cannot be read fails the input, even in a zip and
	 * beside a certificate: it is never dropped with a note. */
	{
		static const char *const bad[][2] = {
			{ "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n"
			  "-----END ENCRYPTED PRIVATE KEY-----\n",
			  "the private key is encrypted: send its password "
			  "with the upload" },
			{ "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: "
			  "4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMAA=\n"
			  "-----END RSA PRIVATE KEY-----\n",
			  "the private key is encrypted the legacy OpenSSL "
			  "way: convert it to PKCS#8 (openssl pkcs8 -topk8) "
			  "or upload a PKCS#12" },
			{ "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n"
			  "-----END PRIVATE KEY-----\n",
			  "the private key is damaged or of a kind that is "
			  "not supported" },
		};

		for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
			struct blob text = { NULL, 0 }, zip;
			struct zip_item items[2];

			blob_add(&text, g_pem[0].data, g_pem[0].len);
			blob_adds(&text, bad[i][0]);
			why = NULL;
			pki_bundle_init(&b);
			assert_true(
			    intake_blob(&b, &text, "both.pem", NULL, &why) < 0);
			assert_string_equal(why, bad[i][1]);
			pki_bundle_clear(&b);
			items[0] = (struct zip_item){ "leaf.pem", g_pem[0].data,
				                      g_pem[0].len, 0, NULL };
			items[1] =
			    (struct zip_item){ "key.pem",
				               (const void *)bad[i][0],
				               strlen(bad[i][0]), 0, NULL };
			zip_blob(items, 2, &zip);
			why = NULL;
			pki_bundle_init(&b);
			assert_true(intake_blob(&b, &zip, "d.zip", NULL, &why) <
			            0);
			assert_string_equal(why, bad[i][1]);
			pki_bundle_clear(&b);
			blob_free(&zip);
			blob_free(&text);
		}
	}
}

static void
test_empty_and_bad_args(void **state)
{
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	pki_bundle_init(&b);
	assert_int_equal(intake(&b, "", 0, NULL, NULL, &LIM, &why),
	                 ERR_INVALID);
	assert_string_equal(why, "the upload is empty");
	why = NULL;
	assert_int_equal(intake(&b, " \r\n\t\n", 5, NULL, NULL, &LIM, &why),
	                 ERR_INVALID);
	assert_string_equal(why, "the upload is empty");
	assert_int_equal(pki_intake_add(&b, NULL, 0, NULL, NULL, &LIM, NULL),
	                 ERR_INVALID);
	assert_int_equal(pki_intake_add(&b, NULL, 5, NULL, NULL, &LIM, NULL),
	                 ERR_INVALID);
	assert_int_equal(pki_intake_add(NULL, g_der[0].data, g_der[0].len, NULL,
	                                NULL, &LIM, NULL),
	                 ERR_INVALID);
	assert_int_equal(pki_intake_add(&b, g_der[0].data, g_der[0].len, NULL,
	                                NULL, NULL, NULL),
	                 ERR_INVALID);
	assert_int_equal(b.count, 0);
	/* why stays untouched on success. */
	why = "sentinel";
	assert_int_equal(intake_blob(&b, &g_der[0], NULL, NULL, &why), 0);
	assert_string_equal(why, "sentinel");
	pki_bundle_clear(&b);
}

static void
test_limits(void **state)
{
	static const int idx[] = { 0, 1, 2 }, same[] = { 0, 0, 0 };
	struct blob three = { NULL, 0 },
	            p7 = make_pkcs7(idx, 3, GNUTLS_X509_FMT_DER);
	struct pki_intake_limits lim = LIM;
	struct pki_bundle b;
	const char *why = NULL;

	(void)state;
	for (int i = 0; i < 3; i++)
		blob_add(&three, g_pem[i].data, g_pem[i].len);

	lim.max_input = g_pem[0].len - 1;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, g_pem[0].data, g_pem[0].len, NULL, NULL, &lim, &why),
	    ERR_TOO_LARGE);
	assert_string_equal(why, "the upload is larger than the size limit");
	pki_bundle_clear(&b);

	lim = LIM;
	lim.max_certs = 2;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, three.data, three.len, NULL, NULL, &lim, &why),
	    ERR_TOO_LARGE);
	assert_non_null(strstr(why, "more certificates than allowed"));
	pki_bundle_clear(&b);
	pki_bundle_init(&b);
	assert_int_equal(intake(&b, p7.data, p7.len, NULL, NULL, &lim, &why),
	                 ERR_TOO_LARGE);
	pki_bundle_clear(&b);
	/* A PKCS#7 listing more than max_certs is refused before it is
	 * walked, even when they are all the same certificate. */
	blob_free(&p7);
	p7 = make_pkcs7(same, 3, GNUTLS_X509_FMT_DER);
	pki_bundle_init(&b);
	assert_int_equal(intake(&b, p7.data, p7.len, NULL, NULL, &lim, &why),
	                 ERR_TOO_LARGE);
	assert_string_equal(why,
	                    "the PKCS#7 holds more certificates than allowed");
	pki_bundle_clear(&b);
	lim.max_certs = 3;
	pki_bundle_init(&b);
	assert_int_equal(intake(&b, p7.data, p7.len, NULL, NULL, &lim, &why),
	                 0);
	assert_int_equal(b.count, 1);
	assert_int_equal(b.duplicates, 2);
	pki_bundle_clear(&b);
	lim.max_certs = 2;
	/* Duplicates do not count towards max_certs. */
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, g_pem[0].data, g_pem[0].len, NULL, NULL, &lim, &why), 0);
	assert_int_equal(
	    intake(&b, g_der[0].data, g_der[0].len, NULL, NULL, &lim, &why), 0);
	assert_int_equal(
	    intake(&b, g_der[1].data, g_der[1].len, NULL, NULL, &lim, &why), 0);
	assert_int_equal(
	    intake(&b, g_der[2].data, g_der[2].len, NULL, NULL, &lim, &why),
	    ERR_TOO_LARGE);
	pki_bundle_clear(&b);

	/* max_total spans the inputs of one bundle. */
	lim = LIM;
	lim.max_total = g_pem[0].len + g_pem[1].len - 1;
	pki_bundle_init(&b);
	assert_int_equal(
	    intake(&b, g_pem[0].data, g_pem[0].len, NULL, NULL, &lim, &why), 0);
	assert_int_equal(
	    intake(&b, g_pem[1].data, g_pem[1].len, NULL, NULL, &lim, &why),
	    ERR_TOO_LARGE);
	pki_bundle_clear(&b);
	blob_free(&three);
	blob_free(&p7);
}

static void
test_source_names_sanitized(void **state)
{
	struct zip_item items[] = {
		{ "bad\x01name\xff.pem", g_pem[0].data, g_pem[0].len, 0, NULL },
	};
	char longname[2000];
	struct pki_bundle b;
	const char *why = NULL;
	struct blob zip;

	(void)state;
	zip_blob(items, 1, &zip);
	pki_bundle_init(&b);
	assert_int_equal(
	    intake_blob(&b, &zip, "up\nload-\xc3\xa4.zip", NULL, &why), 0);
	assert_int_equal(b.count, 1);
	assert_string_equal(b.certs[0].source,
	                    "up?load-\xc3\xa4.zip!bad?name?.pem");
	pki_bundle_clear(&b);
	blob_free(&zip);

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	pki_bundle_init(&b);
	assert_int_equal(intake_blob(&b, &g_p12_empty, longname, NULL, &why),
	                 0);
	assert_true(strlen(b.certs[0].source) <= 512);
	assert_non_null(strstr(b.certs[0].source, "..."));
	assert_int_equal(strlen(b.key_source), sizeof(b.key_source) - 1);
	pki_bundle_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pem_single),
		cmocka_unit_test(test_pem_many_crlf_junk),
		cmocka_unit_test(test_pem_special_labels),
		cmocka_unit_test(test_many_notes),
		cmocka_unit_test(test_der_cert),
		cmocka_unit_test(test_found_parsed_or_not),
		cmocka_unit_test(test_base64_bare),
		cmocka_unit_test(test_pkcs7_gnutls),
		cmocka_unit_test(test_pkcs7_openssl),
		cmocka_unit_test(test_p12_right_password),
		cmocka_unit_test(test_p12_wrong_or_missing_password),
		cmocka_unit_test(test_p12_empty_password),
		cmocka_unit_test(test_p12_null_password),
		cmocka_unit_test(test_p12_second_key_is_a_note),
		cmocka_unit_test(test_p12_openssl),
		cmocka_unit_test(test_p12_kdf_budget),
		cmocka_unit_test(test_p12_unknown_mac),
		cmocka_unit_test(test_zip_nested_folders),
		cmocka_unit_test(test_zip_in_zip),
		cmocka_unit_test(test_duplicates_across_files),
		cmocka_unit_test(test_zip_bomb),
		cmocka_unit_test(test_zip_too_many_entries),
		cmocka_unit_test(test_zip_without_certificates),
		cmocka_unit_test(test_zip_encrypted_entry),
		cmocka_unit_test(test_zip_damaged_member_rolls_back),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_csr_only),
		cmocka_unit_test(test_empty_and_bad_args),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_source_names_sanitized),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
