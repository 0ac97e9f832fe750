/*
 * log.h: one line per event on stderr, with level and request id, each
 * handed to the kernel at once with one write(2) (nothing is buffered, so
 * a crash loses no line that was logged; no lock is taken).
 *
 * Never pass a key, password or token to these functions. The line format is
 *   2026-11-25T10:00:00Z level=info req=r-1a2b msg="..."
 */
#ifndef AMTCERTD_COMMON_LOG_H
#define AMTCERTD_COMMON_LOG_H

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_WARN = 2,
	LOG_LEVEL_ERROR = 3,
};

/* Sets the minimum level printed (process wide). */
void log_set_level(enum log_level lvl);

/*
 * Sets the request id printed with every line of the calling thread; NULL
 * clears it. The string is copied (at most 31 bytes).
 */
void log_set_request_id(const char *id);

void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
