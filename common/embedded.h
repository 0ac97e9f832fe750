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

/*
 * data/bridges/: the built-in cross-certificates and the AMT-listed roots
 * that signed them (every *.pem, "/roots/..." for the roots; ends with path
 * NULL), and bridges.tsv, the catalogue of known bridges with their source.
 */
extern const struct embedded_file embedded_bridges[];
extern const unsigned char *const embedded_bridges_tsv;
extern const size_t embedded_bridges_tsv_len;

#endif
