/*
 * roots.c: lists of root certificate hashes that AMT trusts: the seed list
 * shipped with amtcertd and the lists that devices report about
 * themselves (amt-facts.md section 2).
 */
#include "pki/pki.h"

#include "common/err.h"
#include "common/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NAME 200

void
pki_amt_hash_entries_free(struct pki_amt_hash_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].sha1);
		free(e[i].sha256);
		free(e[i].sha384);
		free(e[i].evidence);
	}
	free(e);
}

bool
pki_hex_is(const char *s, size_t len)
{
	if (!s || strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static char *
dup_range(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static char *
dup_lower(const char *p, size_t n)
{
	char *s = dup_range(p, n);

	for (size_t i = 0; s && i < n; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	return s;
}

/* Appends a zeroed entry; returns it or NULL. */
static struct pki_amt_hash_entry *
entry_add(struct pki_amt_hash_entry **v, size_t *n)
{
	struct pki_amt_hash_entry *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return NULL;
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	return &nv[(*n)++];
}

/* Sets the digest of the right length; false for any other length. */
static bool
entry_set_hash(struct pki_amt_hash_entry *e, const char *hex, size_t n)
{
	char **slot = n == 40   ? &e->sha1
	              : n == 64 ? &e->sha256
	              : n == 96 ? &e->sha384
	                        : NULL;

	if (!slot)
		return false;
	free(*slot);
	*slot = dup_lower(hex, n);
	return *slot != NULL;
}

int
pki_amt_list_parse_tsv(const char *text, size_t len,
                       struct pki_amt_hash_entry **out, size_t *n,
                       const char **why)
{
	struct pki_amt_hash_entry *v = NULL, *e;
	size_t count = 0, pos = 0;
	bool header = false;
	int ret = 0;

	while (pos < len && ret == 0) {
		const char *line = text + pos, *cells[6];
		size_t llen = 0, clen[6], nc = 0;

		while (pos + llen < len && text[pos + llen] != '\n')
			llen++;
		pos += llen + 1;
		if (llen && line[llen - 1] == '\r')
			llen--;
		if (llen == 0 || line[0] == '#')
			continue;
		if (!header) { /* the column names */
			header = true;
			continue;
		}
		for (size_t i = 0, start = 0; i <= llen && nc < 6; i++) {
			if (i == llen || line[i] == '\t') {
				cells[nc] = line + start;
				clen[nc++] = i - start;
				start = i + 1;
			}
		}
		if (nc < 5 || clen[0] == 0 || clen[0] > MAX_NAME) {
			ret = ERR_INVALID;
			*why = "a seed line needs name, sha1, sha256, sha384 "
			       "and evidence";
			break;
		}
		e = entry_add(&v, &count);
		if (!e) {
			ret = ERR_NOMEM;
			break;
		}
		e->active = true;
		e->name = dup_range(cells[0], clen[0]);
		e->evidence = dup_range(cells[4], clen[4]);
		for (size_t k = 1; k <= 3 && ret == 0; k++) {
			char hex[97];

			if (clen[k] == 0)
				continue;
			if (clen[k] >= sizeof(hex)) {
				ret = ERR_INVALID;
				break;
			}
			memcpy(hex, cells[k], clen[k]);
			hex[clen[k]] = '\0';
			if (clen[k] != (k == 1   ? 40u
			                : k == 2 ? 64u
			                         : 96u) ||
			    !pki_hex_is(hex, clen[k]) ||
			    !entry_set_hash(e, hex, clen[k]))
				ret = ERR_INVALID;
		}
		if (ret == ERR_INVALID)
			*why = "a seed hash has the wrong length or is not hex";
		else if (!e->name || !e->evidence)
			ret = ERR_NOMEM;
		else if (!e->sha1 && !e->sha256 && !e->sha384) {
			ret = ERR_INVALID;
			*why = "a seed line has no hash";
		}
	}
	if (ret < 0) {
		pki_amt_hash_entries_free(v, count);
		return ret;
	}
	*out = v;
	*n = count;
	return 0;
}

/*
 * Finds the next hash in line[0..n): hex digit pairs, optionally separated
 * by ':' or ' ' between pairs. Writes the digits (without separators) to
 * hex and where it started/ended. false when there is none.
 */
static bool
next_hash(const char *line, size_t n, size_t from, char *hex, size_t *hlen,
          size_t *start, size_t *end)
{
	for (size_t i = from; i < n; i++) {
		size_t j = i, d = 0;

		if (!isxdigit((unsigned char)line[i]) ||
		    (i > 0 && isalnum((unsigned char)line[i - 1])))
			continue;
		while (j + 1 < n && isxdigit((unsigned char)line[j]) &&
		       isxdigit((unsigned char)line[j + 1]) && d < 96) {
			hex[d++] = line[j];
			hex[d++] = line[j + 1];
			j += 2;
			/* a separator only between pairs of a long run */
			if (j + 2 < n && (line[j] == ':' || line[j] == ' ') &&
			    isxdigit((unsigned char)line[j + 1]) &&
			    isxdigit((unsigned char)line[j + 2]) &&
			    (j + 3 >= n ||
			     !isxdigit((unsigned char)line[j + 3]) ||
			     line[j] == ':'))
				j++;
		}
		if ((d == 40 || d == 64 || d == 96) &&
		    (j >= n || !isalnum((unsigned char)line[j]))) {
			hex[d] = '\0';
			*hlen = d;
			*start = i;
			*end = j;
			return true;
		}
	}
	return false;
}

static bool
contains(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++) {
		if (strncasecmp(p + i, needle, k) == 0)
			return true;
	}
	return false;
}

/* Copies a cleaned-up name: labels and "(Default, Active)" notes gone. */
static char *
clean_name(const char *p, size_t n, bool *inactive)
{
	static const char *const labels[] = {
		"sha256", "sha384", "sha1",        "sha-256",    "sha-384",
		"sha-1",  "hash",   "fingerprint", "thumbprint", NULL
	};
	char buf[MAX_NAME + 1];
	size_t k = 0;

	for (size_t i = 0; i < n && k < MAX_NAME; i++) {
		if (p[i] == '(') { /* a note such as "(Default, Active)" */
			size_t j = i;
			while (j < n && p[j] != ')')
				j++;
			if (contains(p + i, j - i, "inactive") ||
			    contains(p + i, j - i, "not active"))
				*inactive = true;
			i = j;
			continue;
		}
		buf[k++] = (unsigned char)p[i] < 0x20 ? ' ' : p[i];
	}
	buf[k] = '\0';
	/* drop trailing labels and punctuation: "Name SHA256:" -> "Name" */
	for (bool again = true; again;) {
		again = false;
		while (k > 0 && strchr(" \t:=-,;|", buf[k - 1]))
			buf[--k] = '\0';
		for (size_t l = 0; labels[l]; l++) {
			size_t ln = strlen(labels[l]);
			if (k >= ln &&
			    strcasecmp(buf + k - ln, labels[l]) == 0 &&
			    (k == ln || strchr(" \t:=(", buf[k - ln - 1]))) {
				k -= ln;
				buf[k] = '\0';
				again = true;
			}
		}
	}
	{
		size_t s = 0;
		while (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '-' ||
		       buf[s] == '*')
			s++;
		if (buf[s] == '\0')
			return NULL;
		return strdup(buf + s);
	}
}

int
pki_amt_list_parse_device(const char *text, size_t len, size_t max,
                          struct pki_amt_hash_entry **out, size_t *n,
                          const char **why)
{
	struct pki_amt_hash_entry *v = NULL, *e;
	size_t count = 0, pos = 0;
	char *last_name = NULL;
	bool last_inactive = false;
	int ret = 0;

	while (pos < len && ret == 0) {
		const char *line = text + pos;
		size_t llen = 0, from = 0, hlen, start, end;
		char hex[97];
		bool found = false;

		while (pos + llen < len && text[pos + llen] != '\n')
			llen++;
		pos += llen + 1;
		while (ret == 0 &&
		       next_hash(line, llen, from, hex, &hlen, &start, &end)) {
			bool inactive = false;
			char *name = clean_name(line, start, &inactive);

			found = true;
			if (count >= max) {
				free(name);
				ret = ERR_TOO_LARGE;
				*why = "too many hashes in the list";
				break;
			}
			e = entry_add(&v, &count);
			if (!e || !entry_set_hash(e, hex, hlen)) {
				free(name);
				ret = ERR_NOMEM;
				break;
			}
			e->name = name ? name
			               : strdup(last_name ? last_name
			                                  : "device-reported "
			                                    "root");
			e->active = !(inactive || (!name && last_inactive));
			e->evidence = strdup("device-reported");
			if (!e->name || !e->evidence)
				ret = ERR_NOMEM;
			from = end;
		}
		if (!found && ret == 0) {
			bool inactive = false;
			char *name = clean_name(line, llen, &inactive);

			if (name) {
				free(last_name);
				last_name = name;
				last_inactive = inactive;
			}
		}
	}
	free(last_name);
	if (ret == 0 && count == 0) {
		ret = ERR_INVALID;
		*why = "no SHA-1, SHA-256 or SHA-384 hash (40, 64 or 96 hex "
		       "digits) found in the list";
	}
	if (ret < 0) {
		pki_amt_hash_entries_free(v, count);
		return ret;
	}
	*out = v;
	*n = count;
	return 0;
}
