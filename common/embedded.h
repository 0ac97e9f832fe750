/* embedded.h: files compiled into the binary by scripts/embed.cmake. */
#ifndef AMTCERTD_COMMON_EMBEDDED_H
#define AMTCERTD_COMMON_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *path; /* "/index.html" */
	const unsigned char *data;
	size_t len;
};

extern const unsigned char *const embedded_openapi;
extern const size_t embedded_openapi_len;
extern const struct embedded_file embedded_web[]; /* ends with path NULL */

/* data/amt-roots.tsv: the seed list of AMT root hashes. */
extern const unsigned char *const embedded_amt_roots;
extern const size_t embedded_amt_roots_len;

#endif
