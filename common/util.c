#include "common/util.h"

#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int
util_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return ERR_IO;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int
util_id_new(const char *prefix, char *out, size_t out_size)
{
	unsigned char raw[12];
	char hex[25];
	int n;

	if (util_random(raw, sizeof(raw)) < 0)
		return ERR_IO;
	util_hex(raw, sizeof(raw), hex);
	n = snprintf(out, out_size, "%s_%s", prefix, hex);
	if (n < 0 || (size_t)n >= out_size)
		return ERR_INVALID;
	return 0;
}

int
util_token_new(char *out, size_t out_size)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	                          "qrstuvwxyz0123456789-_";
	unsigned char raw[33]; /* 264 bits: 44 symbols, the last dropped */
	size_t o = 5;

	if (out_size < 5 + 43 + 1)
		return ERR_INVALID;
	if (util_random(raw, sizeof(raw)) < 0)
		return ERR_IO;
	memcpy(out, "amtc_", 5);
	for (size_t i = 0; i < sizeof(raw) && o < 48; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 |
		             (unsigned)raw[i + 1] << 8 | raw[i + 2];
		for (int k = 18; k >= 0 && o < 48; k -= 6)
			out[o++] = b64[(v >> k) & 63];
	}
	out[o] = '\0';
	util_wipe(raw, sizeof(raw));
	return 0;
}

/*
 * explicit_bzero (glibc 2.25+) is a memset the compiler may not drop as a
 * dead store; a volatile byte loop did the same a byte at a time, which
 * showed in profiles of requests that wipe their bodies.
 */
void
util_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void
util_free_secret_str(char *s)
{
	if (!s)
		return;
	util_wipe(s, strlen(s));
	free(s);
}

void
util_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void
util_time_format(int64_t t, char *out, size_t out_size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    strftime(out, out_size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (out_size > 0)
			out[0] = '\0';
	}
}

static int
parse_digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*s)[i];
		if (c < '0' || c > '9')
			return ERR_INVALID;
		v = v * 10 + (c - '0');
	}
	*s += n;
	*out = v;
	return 0;
}

static int
expect(const char **s, char c1, char c2)
{
	if (**s != c1 && (c2 == 0 || **s != c2))
		return ERR_INVALID;
	(*s)++;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t yy = y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

int
util_time_parse(const char *s, int64_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30,
		                     31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t t;

	if (!s)
		return ERR_INVALID;
	if (parse_digits(&s, 4, &y) || expect(&s, '-', 0) ||
	    parse_digits(&s, 2, &mo) || expect(&s, '-', 0) ||
	    parse_digits(&s, 2, &d) || expect(&s, 'T', 't') ||
	    parse_digits(&s, 2, &h) || expect(&s, ':', 0) ||
	    parse_digits(&s, 2, &mi) || expect(&s, ':', 0) ||
	    parse_digits(&s, 2, &sec))
		return ERR_INVALID;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return ERR_INVALID;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '+' ? 1 : -1;
		s++;
		if (parse_digits(&s, 2, &oh) || expect(&s, ':', 0) ||
		    parse_digits(&s, 2, &om) || oh > 23 || om > 59)
			return ERR_INVALID;
	} else {
		return ERR_INVALID;
	}
	if (*s != '\0')
		return ERR_INVALID;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return ERR_INVALID;
	if (mo == 2 && d == 29 &&
	    !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return ERR_INVALID;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	*out = t;
	return 0;
}

int64_t
util_now(void)
{
	return (int64_t)time(NULL);
}

char *
util_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

bool
util_str_empty(const char *s)
{
	return !s || !*s;
}

char *
util_aprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

size_t
util_utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}
