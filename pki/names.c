/*
 * names.c: host names, subject fields and the AMT DNS suffix rules
 * (docs/amt-facts.md section 4).
 *
 * Every function here takes NUL-terminated strings, treats NULL as "no",
 * and can't fail.
 */
#include "pki/pki.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FQDN_MAX_LEN  253
#define LABEL_MAX_LEN 63

static bool
is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

/*
 * With allow_wildcard, "*." is accepted in front of a name that is itself a
 * valid FQDN: "*.example.com" passes, "*.com" does not (no CA issues it).
 */
bool
pki_name_is_fqdn(const char *name, bool allow_wildcard)
{
	const char *p;
	size_t labels = 0, label_len = 0;
	bool all_digits = true;

	if (!name)
		return false;
	if (strlen(name) > FQDN_MAX_LEN)
		return false;
	p = name;
	if (allow_wildcard && p[0] == '*' && p[1] == '.')
		p += 2;

	for (;; p++) {
		char c = *p;

		if (c == '.' || c == '\0') {
			if (label_len == 0 || p[-1] == '-')
				return false;
			labels++;
			if (c == '\0')
				break;
			label_len = 0;
			all_digits = true;
			continue;
		}
		if (!is_alpha(c) && !is_digit(c) && c != '-')
			return false;
		if (c == '-' && label_len == 0)
			return false;
		if (!is_digit(c))
			all_digits = false;
		if (++label_len > LABEL_MAX_LEN)
			return false;
	}
	return labels >= 2 && !all_digits;
}

/* Officially assigned ISO 3166-1 alpha-2 codes (249), sorted for bsearch. */
static const char country_codes[][3] = {
	"AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT",
	"AU", "AW", "AX", "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI",
	"BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY",
	"BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
	"CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM",
	"DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK",
	"FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL",
	"GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
	"HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR",
	"IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN",
	"KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS",
	"LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
	"ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW",
	"MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP",
	"NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM",
	"PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
	"SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM",
	"SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF",
	"TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
	"TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
	"VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
};

static int
cmp_code(const void *key, const void *elem)
{
	return strcmp(key, elem);
}

bool
pki_country_is_valid(const char *cc)
{
	if (!cc || strlen(cc) != 2 || !is_upper(cc[0]) || !is_upper(cc[1]))
		return false;
	return bsearch(cc, country_codes,
	               sizeof(country_codes) / sizeof(country_codes[0]),
	               sizeof(country_codes[0]), cmp_code) != NULL;
}

/*
 * Abbreviated: one or two letters ("CA", "ca", "Tx"), three upper-case
 * letters ("NSW", "QLD"), a trailing period ("Calif.", "D.C."), or initials
 * ("N.Y"). Spelled-out three-letter names in mixed case ("Goa", "Zug",
 * "Uri") and names with an inner period ("St. Gallen") are not.
 * Surrounding spaces are ignored.
 */
bool
pki_state_looks_abbreviated(const char *state)
{
	const char *b, *e;
	size_t len;
	bool letters = true, upper = true, initials = true;

	if (!state)
		return false;
	b = state;
	while (*b == ' ' || *b == '\t')
		b++;
	e = b + strlen(b);
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	len = (size_t)(e - b);
	if (len == 0)
		return false;
	if (e[-1] == '.')
		return true;

	for (size_t i = 0; i < len; i++) {
		if (!is_alpha(b[i]))
			letters = false;
		if (!is_upper(b[i]))
			upper = false;
		/* "X.Y.Z" pattern: letters at even positions, dots at odd. */
		if (i % 2 == 0 ? !is_alpha(b[i]) : b[i] != '.')
			initials = false;
	}
	if (letters && len <= 2)
		return true;
	if (upper && len == 3)
		return true;
	return initials && len >= 3;
}

/* ---- suffix rules ----------------------------------------------------- */

/* MeshCentral certoperations.js, TopLevelDomainExtendedSupport. */
static const struct {
	const char *tld;
	unsigned depth;
} tld_depths[] = {
	{ "net", 2 }, { "com", 2 },  { "org", 2 }, { "gov", 2 }, { "edu", 2 },
	{ "de", 2 },  { "ch", 2 },   { "dk", 2 },  { "cz", 2 },  { "cl", 2 },
	{ "ua", 2 },  { "arpa", 3 }, { "fr", 3 },  { "cn", 3 },  { "nl", 3 },
	{ "br", 3 },  { "mx", 3 },   { "uk", 3 },  { "pl", 3 },  { "tw", 3 },
	{ "ca", 3 },  { "fi", 3 },   { "be", 3 },  { "ru", 3 },  { "se", 3 },
	{ "ar", 3 },  { "es", 3 },   { "no", 3 },  { "at", 3 },  { "in", 3 },
	{ "tr", 3 },  { "ro", 3 },   { "hu", 3 },  { "nz", 3 },  { "pt", 3 },
	{ "il", 3 },  { "gr", 3 },   { "co", 3 },  { "ie", 3 },  { "za", 3 },
	{ "th", 3 },  { "sg", 3 },   { "hk", 3 },  { "lt", 3 },  { "id", 3 },
	{ "hr", 3 },  { "ee", 3 },   { "bg", 3 },
};

/* Non-empty, no empty label (no leading, trailing or double dot). */
static bool
labels_are_well_formed(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && s[0] != '.' && s[len - 1] != '.' && !strstr(s, "..");
}

static size_t
label_count(const char *s)
{
	size_t n = 1;

	for (; *s; s++) {
		if (*s == '.')
			n++;
	}
	return n;
}

/* The last n labels of s (all of s when it has fewer). */
static const char *
last_labels(const char *s, size_t n)
{
	const char *p = s + strlen(s);

	while (p > s) {
		if (p[-1] == '.' && --n == 0)
			return p;
		p--;
	}
	return s;
}

/* true when tail equals s or is a suffix of s on a label boundary. */
static bool
ends_with_labels(const char *s, const char *tail)
{
	size_t ls = strlen(s), lt = strlen(tail);

	if (lt > ls || strcasecmp(s + ls - lt, tail) != 0)
		return false;
	return ls == lt || s[ls - lt - 1] == '.';
}

static unsigned
tld_depth(const char *name)
{
	const char *tld = last_labels(name, 1);

	for (size_t i = 0; i < sizeof(tld_depths) / sizeof(tld_depths[0]);
	     i++) {
		if (strcasecmp(tld, tld_depths[i].tld) == 0)
			return tld_depths[i].depth;
	}
	return 0;
}

/*
 * The shortening follows MeshCentral: name is cut to its last N labels
 * (kept whole when it has fewer) and the suffix must end with that on a
 * label boundary. With N labels on both sides this is "the last N labels
 * are equal".
 */
bool
pki_suffix_matches_intel(const char *name, const char *suffix)
{
	unsigned depth;

	if (!name || !suffix)
		return false;
	if (name[0] == '*' && name[1] == '.')
		name += 2;
	if (!labels_are_well_formed(name) || !labels_are_well_formed(suffix))
		return false;
	if (ends_with_labels(name, suffix))
		return true;
	depth = tld_depth(name);
	if (depth == 0)
		return false;
	return ends_with_labels(suffix, last_labels(name, depth));
}

/*
 * Byte-exact, as RPS compares (domainSuffixChecker uses !==): "Example.com"
 * and "example.com" differ there, so they differ here. Both names need two
 * labels.
 */
bool
pki_suffix_matches_rps(const char *name, const char *suffix)
{
	if (!name || !suffix || !labels_are_well_formed(name) ||
	    !labels_are_well_formed(suffix) || label_count(name) < 2 ||
	    label_count(suffix) < 2)
		return false;
	return strcmp(last_labels(name, 2), last_labels(suffix, 2)) == 0;
}
