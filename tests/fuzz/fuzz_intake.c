/*
 * fuzz_intake.c: libFuzzer target for pki_intake_add() (pki/intake.c).
 *
 * Feeds each input as one upload with small limits and the password
 * "test" (the seed PKCS#12 uses it), then checks what the bundle promises:
 * no more than max_certs certificates, each one's SHA-256 right, totals
 * within max_total, a reason on every refusal. Seeds: corpus/intake/.
 *
 * Build and run (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION lowers the
 * PKCS#12 key-derivation budget so slow inputs do not stall the fuzzer):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -D_POSIX_C_SOURCE=200809L \
 *     -D_DEFAULT_SOURCE -I. common/err.c common/log.c common/util.c \
 *     pki/init.c pki/intake.c tests/fuzz/fuzz_intake.c \
 *     -lgnutls -larchive -lpthread -o fuzz_intake
 *   cp -r tests/fuzz/corpus/intake /tmp/corpus
 *   ./fuzz_intake -max_total_time=60 /tmp/corpus
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

static void
check_bundle(const struct pki_bundle *b)
{
	fuzz_check_bundle(b);
	if (b->key && (!b->key->data || b->key->len == 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct pki_bundle b;
	const char *why = NULL;
	int ret;

	if (!ready) {
		log_set_level(LOG_LEVEL_ERROR);
		if (pki_init() != 0)
			abort();
		ready = true;
	}
	pki_bundle_init(&b);
	ret = pki_intake_add(&b, data, size, "fuzz.bin", "test", &fuzz_limits,
	                     &why);
	if (ret != 0 && ret != ERR_INVALID && ret != ERR_TOO_LARGE &&
	    ret != ERR_PASSWORD)
		abort();
	if (ret != 0 && !why)
		abort();
	check_bundle(&b);
	pki_bundle_clear(&b);
	return 0;
}
