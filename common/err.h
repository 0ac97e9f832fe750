/*
 * err.h: the one error vocabulary of amtcertd.
 *
 * Fallible functions return 0 on success or a negative enum err. Library
 * codes (SQLITE_*, GNUTLS_E_*, errno) are logged where they happen and
 * translated into one of these; they never cross a module boundary.
 */
#ifndef AMTCERTD_COMMON_ERR_H
#define AMTCERTD_COMMON_ERR_H

enum err {
	ERR_OK = 0,
	ERR_NOMEM = -1,        /* allocation failed */
	ERR_INVALID = -2,      /* the input is malformed or breaks a rule */
	ERR_NOT_FOUND = -3,    /* no such row / object */
	ERR_CONFLICT = -4,     /* uniqueness or state conflict */
	ERR_PRECONDITION = -5, /* optimistic-lock version mismatch */
	ERR_IO = -6,           /* file system or OS failure */
	ERR_CRYPTO = -7,       /* a crypto library failed on valid input */
	ERR_DB = -8,           /* the database failed */
	ERR_TOO_LARGE = -9,    /* input over a size limit */
	ERR_BUSY = -10,        /* a bounded queue is full */
	ERR_PASSWORD = -11,    /* a password (PKCS#12) is wrong or missing */
	ERR_FULL = -12,        /* the disk holding the state is full */
};

/* Returns a static, human-readable name for an enum err value. Can't fail. */
const char *err_str(int e);

#endif
