/* embedded.h: files compiled into the binary by scripts/embed.cmake. */
#ifndef AMTCERTD_API_EMBEDDED_H
#define AMTCERTD_API_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *path; /* "/index.html" */
	const unsigned char *data;
	size_t len;
};

extern const unsigned char *const embedded_openapi;
extern const size_t embedded_openapi_len;
extern const struct embedded_file embedded_web[]; /* ends with path NULL */

#endif
