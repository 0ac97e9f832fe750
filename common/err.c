#include "common/err.h"

const char *
err_str(int e)
{
	switch (e) {
	case ERR_OK:
		return "ok";
	case ERR_NOMEM:
		return "out of memory";
	case ERR_INVALID:
		return "invalid input";
	case ERR_NOT_FOUND:
		return "not found";
	case ERR_CONFLICT:
		return "conflict";
	case ERR_PRECONDITION:
		return "precondition failed";
	case ERR_IO:
		return "i/o error";
	case ERR_CRYPTO:
		return "crypto error";
	case ERR_DB:
		return "database error";
	case ERR_TOO_LARGE:
		return "too large";
	case ERR_BUSY:
		return "busy";
	case ERR_PASSWORD:
		return "wrong password";
	case ERR_FULL:
		return "the disk is full";
	default:
		return "unknown error";
	}
}
