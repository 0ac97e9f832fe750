#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level min_level = LOG_LEVEL_INFO;
static _Thread_local char request_id[32];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

void
log_set_request_id(const char *id)
{
	if (!id) {
		request_id[0] = '\0';
		return;
	}
	snprintf(request_id, sizeof(request_id), "%s", id);
}

static const char *
level_name(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LEVEL_DEBUG:
		return "debug";
	case LOG_LEVEL_INFO:
		return "info";
	case LOG_LEVEL_WARN:
		return "warn";
	default:
		return "error";
	}
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char msg[1024];
	char ts[32];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;

	if (lvl < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One event, one line: newlines inside a message are flattened. */
	for (char *p = msg; *p; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s level=%s req=%s msg=\"%s\"\n", ts, level_name(lvl),
	        request_id[0] ? request_id : "-", msg);
	pthread_mutex_unlock(&log_lock);
}
