/*
 * bundle_check.h: what every intake fuzzer checks of a pki_bundle, and the
 * small limits they read with. Included by one fuzz target each (static).
 */
#ifndef AMTCERTD_TESTS_FUZZ_BUNDLE_CHECK_H
#define AMTCERTD_TESTS_FUZZ_BUNDLE_CHECK_H

#include "pki/pki.h"

#include <stdlib.h>
#include <string.h>

static const struct pki_intake_limits fuzz_limits = {
	.max_input = 64 * 1024,
	.max_total = 256 * 1024,
	.max_entries = 32,
	.max_ratio = 100,
	.max_depth = 2,
	.max_certs = 16,
};

/*
 * Aborts unless the bundle keeps its promises: within the limits, each
 * certificate's SHA-256 right and no certificate twice, a source and a
 * message on every note.
 */
static void
fuzz_check_bundle(const struct pki_bundle *b)
{
	char hex[PKI_SHA256_HEX_LEN + 1];

	if (b->count > fuzz_limits.max_certs ||
	    b->total > fuzz_limits.max_total)
		abort();
	for (size_t i = 0; i < b->count; i++) {
		const struct pki_found_cert *c = &b->certs[i];

		if (!c->der || c->der_len == 0 || !c->source || !c->format ||
		    pki_sha256_hex(c->der, c->der_len, hex) != 0 ||
		    strcmp(hex, c->sha256) != 0)
			abort();
		for (size_t j = 0; j < i; j++) {
			if (strcmp(b->certs[j].sha256, c->sha256) == 0)
				abort();
		}
	}
	for (size_t i = 0; i < b->note_count; i++) {
		if (!b->notes[i].source || !b->notes[i].message)
			abort();
	}
}

#endif
