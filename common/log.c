/*
 * log.c: one line per event on stderr.
 *
 * A line is built in a buffer on the stack and handed to the kernel with
 * one write(2) at once: nothing waits in a user-space buffer, so a crash
 * loses no line that was logged, and there is no lock. Lines of several
 * threads do not mix: the kernel writes one write(2) to a regular file
 * whole (it serialises writes that share a file position), and so it does
 * one to a pipe of at most PIPE_BUF bytes; a line is at most LINE_MAX_LEN.
 * The time stamp is formatted once a second per thread.
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The longest message kept; longer ones are cut. */
#define MSG_MAX_LEN 1023

/*
 * "2026-11-25T10:00:00Z level=error req=<id> msg=\"<msg>\"\n": the time
 * stamp (at most 23), " level=" and a level (12), " req=" and an id (36),
 * " msg=\"" (6), the message and "\"\n".
 */
#define LINE_MAX_LEN (23 + 12 + 36 + 6 + MSG_MAX_LEN + 2)

static enum log_level min_level = LOG_LEVEL_INFO;
static _Thread_local char request_id[32];

/* This thread's last time stamp and the second it names. */
static _Thread_local time_t stamp_sec = -1;
static _Thread_local char stamp[24];
static _Thread_local size_t stamp_len;

void
log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

void
log_set_request_id(const char *id)
{
	size_t n = id ? strnlen(id, sizeof(request_id) - 1) : 0;

	memcpy(request_id, id ? id : "", n);
	request_id[n] = '\0';
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

/* Appends the n bytes at s to line (of LINE_MAX_LEN) at *at, or less. */
static void
put(char *line, size_t *at, const char *s, size_t n)
{
	if (n > LINE_MAX_LEN - *at)
		n = LINE_MAX_LEN - *at;
	memcpy(line + *at, s, n);
	*at += n;
}

/* Writes all of line to stderr, as far as the kernel takes it. */
static void
write_line(const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere to report it */
		line += n;
		len -= (size_t)n;
	}
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[LINE_MAX_LEN + 1]; /* + vsnprintf's NUL */
	const char *name;
	time_t now;
	va_list ap;
	size_t at = 0, msg_at, room;
	int n;

	if (lvl < min_level)
		return;
	now = time(NULL);
	if (now != stamp_sec) {
		struct tm tm;

		stamp_len = 0;
		if (gmtime_r(&now, &tm))
			stamp_len = strftime(stamp, sizeof(stamp),
			                     "%Y-%m-%dT%H:%M:%SZ", &tm);
		stamp_sec = stamp_len ? now : -1;
	}
	name = level_name(lvl);
	put(line, &at, stamp, stamp_len);
	put(line, &at, " level=", 7);
	put(line, &at, name, strlen(name));
	put(line, &at, " req=", 5);
	if (request_id[0])
		put(line, &at, request_id, strlen(request_id));
	else
		put(line, &at, "-", 1);
	put(line, &at, " msg=\"", 6);
	msg_at = at;
	room = LINE_MAX_LEN - 2 - at; /* >= MSG_MAX_LEN: see LINE_MAX_LEN */
	if (room > MSG_MAX_LEN)
		room = MSG_MAX_LEN;
	va_start(ap, fmt);
	n = vsnprintf(line + at, room + 1, fmt, ap);
	va_end(ap);
	if (n > 0)
		at += (size_t)n < room ? (size_t)n : room;
	/* One event, one line: newlines inside a message are flattened. */
	for (size_t i = msg_at; i < at; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	put(line, &at, "\"\n", 2);
	write_line(line, at);
}
