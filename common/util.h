/*
 * util.h: small helpers every module may use: random ids, secure wiping,
 * hex, time formatting.
 */
#ifndef AMTCERTD_COMMON_UTIL_H
#define AMTCERTD_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Fills buf with n bytes from the kernel CSPRNG. 0 or ERR_IO. */
int util_random(void *buf, size_t n);

/*
 * Writes a new random id "<prefix>_" + 24 lowercase hex characters into out
 * (size >= strlen(prefix) + 26). 0 or ERR_IO / ERR_INVALID.
 */
int util_id_new(const char *prefix, char *out, size_t out_size);

/*
 * Writes a new API token: "amtc_" + 43 base64url characters carrying 256
 * random bits (out_size >= 49). 0, ERR_IO or ERR_INVALID.
 */
int util_token_new(char *out, size_t out_size);

/* Overwrites n bytes in a way the compiler will not optimise away. */
void util_wipe(void *p, size_t n);

/* Wipes strlen(s) bytes of s, then frees it. NULL is a no-op. */
void util_free_secret_str(char *s);

/* Lowercase hex of n bytes into out (size >= 2n+1). Can't fail. */
void util_hex(const unsigned char *in, size_t n, char *out);

/* Formats t as RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" (out size >= 21). */
void util_time_format(int64_t t, char *out, size_t out_size);

/*
 * Parses an RFC 3339 date-time (Z or +hh:mm offset, optional fraction).
 * 0 or ERR_INVALID; *out written only on success.
 */
int util_time_parse(const char *s, int64_t *out);

/* Current wall-clock time in seconds. */
int64_t util_now(void);

/* A malloc'd printf; NULL on failure. Caller frees. */
char *util_aprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* strdup that returns NULL for NULL. */
char *util_strdup(const char *s);

/* true when s is NULL or "". */
bool util_str_empty(const char *s);

/*
 * The UTF-8 character at s[0..n), n >= 1: its length (1..4) with its code
 * point in *cp, or 0 when it is not well-formed (overlong, a surrogate,
 * above U+10FFFF, cut short by n). Can't fail.
 */
size_t util_utf8_char(const unsigned char *s, size_t n, uint32_t *cp);

#endif
