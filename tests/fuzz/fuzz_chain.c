/*
 * fuzz_chain.c: libFuzzer target for pki_cert_parse(), pki_chain_build()
 * and pki_verify_path().
 *
 * Input: up to 8 records, each a 2-byte big-endian length and that many
 * bytes of DER (a short last record takes what is left). Each record is
 * parsed from an exact-size heap copy; every certificate that parses is
 * then the leaf of a chain built from all of them against a small fixed
 * AMT root list, and every path found is verified.
 *
 * Build (see tests/fuzz/corpus/chain for seeds):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *     -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE common/err.c \
 *     common/log.c common/util.c pki/init.c pki/key.c pki/csr.c \
 *     pki/seal.c pki/names.c pki/cert.c pki/chain.c pki/verify.c \
 *     tests/fuzz/fuzz_chain.c -lgnutls -lpthread -o fuzz_chain
 *   ./fuzz_chain -max_total_time=60 CORPUS_COPY tests/fuzz/corpus/chain
 */
#include "common/err.h"
#include "common/log.h"
#include "pki/pki.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CERTS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* AAA Certificate Services (enabled), USERTrust RSA (known only), and an
 * entry that matches nothing. */
static const struct pki_amt_root roots[] = {
	{ "AAA Certificate Services", NULL,
	  "d7a7a0fb5d7e2731d771e9484ebcdef71d5f0c3e0a2948782bc83ee0ea699ef4",
	  NULL, true, NULL },
	{ "USERTrust RSA Certification Authority", NULL,
	  "e793c9b02fd8aa13e21c31228accb08119643b749c898964b1746d46c3d4cbd2",
	  NULL, false, NULL },
	{ "nothing", "0000000000000000000000000000000000000000", NULL,
	  "000000000000000000000000000000000000000000000000"
	  "000000000000000000000000000000000000000000000000",
	  true, NULL },
};

static void
verify_all(const struct pki_path *paths, size_t npaths)
{
	struct pki_verify_opts o[2];

	memset(o, 0, sizeof(o));
	o[0].at = 1767225600; /* 2026-01-01 */
	o[1].at = 1767225600;
	o[1].dns_suffix = "example.com";
	o[1].expected_spki =
	    "0000000000000000000000000000000000000000000000000000000000000000";
	o[1].amt_max = 16;
	for (size_t i = 0; i < npaths; i++) {
		for (size_t k = 0; k < 2; k++) {
			struct pki_report *r = NULL;

			if (pki_verify_path(&paths[i], &o[k], &r) == 0)
				pki_report_free(r);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool initialized;
	struct pki_cert *certs[MAX_CERTS];
	struct pki_candidate cands[MAX_CERTS];
	size_t n = 0;

	if (!initialized) {
		log_set_level(LOG_LEVEL_ERROR);
		if (pki_init() != 0)
			abort();
		initialized = true;
	}

	while (size >= 2 && n < MAX_CERTS) {
		size_t len = ((size_t)data[0] << 8) | data[1];
		unsigned char *copy;
		struct pki_cert *c = NULL;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		copy = malloc(len ? len : 1);
		if (!copy)
			break;
		if (len)
			memcpy(copy, data, len);
		if (pki_cert_parse(copy, len, &c, NULL) == 0) {
			char *pem = NULL;

			if (pki_cert_to_pem(c, &pem) == 0)
				free(pem);
			cands[n].cert = c;
			cands[n].origin = (enum pki_origin)(n % 3);
			certs[n++] = c;
		}
		free(copy);
		data += len;
		size -= len;
	}

	for (size_t i = 0; i < n; i++) {
		struct pki_path *paths = NULL;
		size_t npaths = 0;

		if (pki_chain_build(&cands[i], cands, n, roots,
		                    sizeof(roots) / sizeof(roots[0]),
		                    i % 2 == 0, &paths, &npaths) != 0)
			continue;
		verify_all(paths, npaths);
		pki_paths_free(paths, npaths);
	}

	for (size_t i = 0; i < n; i++)
		pki_cert_free(certs[i]);
	return 0;
}
