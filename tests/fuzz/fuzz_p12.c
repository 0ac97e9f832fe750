/*
 * fuzz_p12.c: libFuzzer target for the PKCS#12 readers: the intake's
 * (pki_intake_add() on a PFX, pki/intake.c), the export checker's
 * (pki_p12_check(), pki/pkcs12.c) and pki_p12_mac_iterations().
 *
 * Each input is read as an uploaded PFX with the seeds' password and with
 * none (the intake then tries "" and no password). What is checked on any
 * input: the intake answers 0 or a refusal with a reason; the bundle keeps
 * its promises (SHA-256 of every certificate, no duplicates, limits); a
 * key it takes out is a readable PKCS#8 key. When the intake read a key
 * and the certificate for it, and the MAC's iteration count is one an
 * export may use: pki_p12_check() agrees on the key, a PFX exported from
 * what was read (OpenSSL) passes pki_p12_check() (GnuTLS) and reads back
 * through the intake to the same key and certificate. Seeds:
 * corpus/p12/ (both export profiles, several small iteration counts, no
 * MAC, no key, a wrong password), made by tests/fuzz/make-p12-seeds.sh.
 *
 * Built by -DAMTCERTD_FUZZ=ON (clang); scripts/test.sh runs it briefly,
 * scripts/fuzz-merge.sh grows its corpus.
 */
#include "common/err.h"
#include "common/log.h"
#include "pki/pki.h"
#include "tests/fuzz/bundle_check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The password of the seeds (8..64 printable: an export password). */
#define SEED_PASSWORD "fuzz-password"
/* Exports made from what was read use this many iterations. */
#define EXPORT_ITER 1000u
/* pki_p12_check() re-derives keys: only for MACs this cheap. */
#define CHECK_ITER_MAX 4096u

static void
check_bundle(const struct pki_bundle *b)
{
	char hex[PKI_SHA256_HEX_LEN + 1];

	fuzz_check_bundle(b);
	/* a key taken out of a PFX is PKCS#8 that reads back */
	if (b->key && (!b->key->data || b->key->len == 0 ||
	               pki_key_spki_sha256(b->key, hex) != 0))
		abort();
}

static int
intake(const uint8_t *data, size_t size, const char *password,
       struct pki_bundle *b)
{
	const char *why = NULL;
	int ret;

	pki_bundle_init(b);
	ret = pki_intake_add(b, data, size, "fuzz.p12", password, &fuzz_limits,
	                     &why);
	if (ret != 0 && ret != ERR_INVALID && ret != ERR_TOO_LARGE &&
	    ret != ERR_PASSWORD && ret != ERR_NOMEM)
		abort();
	if (ret != 0 && ret != ERR_NOMEM && !why)
		abort();
	check_bundle(b);
	return ret;
}

/* The certificate whose public key is the bundle's key, or -1. */
static long
key_cert(const struct pki_bundle *b, char *spki)
{
	if (!b->key || pki_key_spki_sha256(b->key, spki) != 0)
		return -1;
	for (size_t i = 0; i < b->count; i++) {
		if (b->certs[i].cert &&
		    strcmp(b->certs[i].cert->spki_sha256, spki) == 0)
			return (long)i;
	}
	return -1;
}

/* What the intake read, exported and read again, must be the same. */
static void
round_trip(const struct pki_bundle *b, long leaf, const char *spki,
           enum pki_p12_profile profile)
{
	const struct pki_cert *certs[1] = { b->certs[leaf].cert };
	struct pki_secret *pfx = NULL;
	struct pki_bundle again;
	char spki2[PKI_SHA256_HEX_LEN + 1];
	const char *why = NULL;
	int ret;

	ret = pki_p12_export(b->key, certs, 1, "fuzz", SEED_PASSWORD, profile,
	                     EXPORT_ITER, &pfx);
	if (ret == ERR_INVALID || ret == ERR_CRYPTO || ret == ERR_NOMEM)
		return; /* e.g. a key type the export does not write */
	if (ret != 0)
		abort();
	if (pki_p12_check(pfx, SEED_PASSWORD, certs, 1, profile, EXPORT_ITER,
	                  &why) != 0)
		abort();
	if (intake(pfx->data, pfx->len, SEED_PASSWORD, &again) != 0 ||
	    again.count != 1 || !again.key ||
	    strcmp(again.certs[0].sha256, certs[0]->sha256) != 0 ||
	    pki_key_spki_sha256(again.key, spki2) != 0 ||
	    strcmp(spki, spki2) != 0)
		abort();
	pki_bundle_clear(&again);
	pki_secret_free(pfx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct pki_bundle b;
	struct pki_secret in;
	char spki[PKI_SHA256_HEX_LEN + 1];
	const char *why = NULL;
	unsigned iter = 0;
	long leaf;
	int ret;

	if (!ready) {
		log_set_level(LOG_LEVEL_ERROR);
		if (pki_init() != 0)
			abort();
		ready = true;
	}
	if (size == 0)
		return 0;
	in.data = (unsigned char *)(uintptr_t)data;
	in.len = size;
	if (pki_p12_mac_iterations(&in, &iter) != 0)
		iter = 0;

	(void)intake(data, size, NULL, &b);
	pki_bundle_clear(&b);

	ret = intake(data, size, SEED_PASSWORD, &b);
	leaf = ret == 0 ? key_cert(&b, spki) : -1;
	if (leaf >= 0 && iter >= PKI_P12_ITER_MIN && iter <= CHECK_ITER_MAX) {
		const struct pki_cert *certs[1] = { b.certs[leaf].cert };

		for (int p = PKI_P12_COMPAT; p <= PKI_P12_MODERN; p++) {
			ret =
			    pki_p12_check(&in, SEED_PASSWORD, certs, 1,
			                  (enum pki_p12_profile)p, iter, &why);
			if (ret != 0 && ret != ERR_INVALID && ret != ERR_NOMEM)
				abort();
			if (ret == ERR_INVALID && !why)
				abort();
		}
	}
	if (leaf >= 0)
		round_trip(&b, leaf, spki,
		           (data[size - 1] & 1) ? PKI_P12_MODERN
		                                : PKI_P12_COMPAT);
	pki_bundle_clear(&b);
	return 0;
}
