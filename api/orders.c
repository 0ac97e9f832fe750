/*
 * orders.c: /api/v1/orders and its sub-resources. JSON in, structs to
 * pki/ and db/, JSON out. Each handler lists the statuses it can return;
 * openapi.yaml says the same.
 */
#include "api/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"
#include "db/db.h"
#include "pki/pki.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SAN      100
#define MAX_NOTES    4096
#define MAX_TEXT     256
#define MAX_REASON   1024
#define MAX_CSR_PEM  (32u << 10)
#define MAX_IDEM_KEY 255
#define LIST_DEFAULT 50
#define LIST_MAX     200
#define VALIDITY_CAP 200 /* days, CA/Browser Forum SC-081 since 2026-03 */

static const char *const json_types[] = { "application/json", NULL };
static const char *const patch_types[] = { "application/json",
	                                   "application/merge-patch+json",
	                                   NULL };

/* ---- JSON views --------------------------------------------------------- */

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *
time_json(int64_t t)
{
	char buf[32];

	if (t == 0)
		return json_null();
	util_time_format(t, buf, sizeof(buf));
	return json_string(buf);
}

static void
etag_of(const struct db_order *o, char *out, size_t n)
{
	snprintf(out, n, "\"v%lld\"", (long long)o->version);
}

/*
 * The order's JSON is written as text, not built as a jansson tree and
 * dumped: it is the answer to the most frequent request, and the tree cost
 * a third of it. The text is what json_dumps(JSON_COMPACT |
 * JSON_ENSURE_ASCII) made of the tree: the same keys in the same order,
 * the same escapes.
 */
struct jtext {
	char *p;
	size_t len, cap;
	bool failed; /* out of memory: p is freed, nothing more is written */
};

static bool
jt_reserve(struct jtext *t, size_t n)
{
	size_t cap;
	char *np;

	if (t->failed)
		return false;
	if (t->cap - t->len > n)
		return true;
	cap = t->cap ? t->cap : 1024;
	while (cap - t->len <= n)
		cap *= 2;
	np = realloc(t->p, cap);
	if (!np) {
		free(t->p);
		t->p = NULL;
		t->failed = true;
		return false;
	}
	t->p = np;
	t->cap = cap;
	return true;
}

static void
jt_raw(struct jtext *t, const char *s, size_t n)
{
	if (!jt_reserve(t, n))
		return;
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

/* A literal: a key with its quotes and colon, punctuation. */
#define JT_LIT(t, s) jt_raw((t), "" s, sizeof(s) - 1)

/*
 * The length of the UTF-8 sequence at s (1..4) and its code point, or 0
 * when it is not well-formed (overlong, a surrogate, above U+10FFFF,
 * cut short).
 */
static size_t
utf8_next(const unsigned char *s, uint32_t *cp)
{
	size_t n;
	uint32_t c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also stops at the terminating NUL */
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* \uXXXX with upper-case hex digits, as jansson writes them. */
static void
jt_u16(struct jtext *t, uint32_t u)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[6] = { '\\',
		      'u',
		      hex[(u >> 12) & 15],
		      hex[(u >> 8) & 15],
		      hex[(u >> 4) & 15],
		      hex[u & 15] };

	jt_raw(t, e, sizeof(e));
}

/*
 * s escaped for the inside of a JSON string, in ASCII. A byte that does
 * not start a well-formed UTF-8 sequence is written as U+FFFD, so the
 * answer stays JSON whatever the store holds.
 */
static void
jt_esc(struct jtext *t, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (p && *p) {
		const unsigned char *run = p;
		uint32_t cp;
		size_t n;

		/* the common case: a run of printable ASCII, copied at once */
		while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			jt_raw(t, (const char *)run, (size_t)(p - run));
		if (!*p)
			break;
		switch (*p) {
		case '"':
			JT_LIT(t, "\\\"");
			p++;
			continue;
		case '\\':
			JT_LIT(t, "\\\\");
			p++;
			continue;
		case '\b':
			JT_LIT(t, "\\b");
			p++;
			continue;
		case '\f':
			JT_LIT(t, "\\f");
			p++;
			continue;
		case '\n':
			JT_LIT(t, "\\n");
			p++;
			continue;
		case '\r':
			JT_LIT(t, "\\r");
			p++;
			continue;
		case '\t':
			JT_LIT(t, "\\t");
			p++;
			continue;
		default:
			break;
		}
		n = utf8_next(p, &cp);
		if (n == 0) {
			cp = 0xfffd;
			n = 1;
		}
		p += n;
		if (cp < 0x10000) {
			jt_u16(t, cp);
		} else {
			cp -= 0x10000;
			jt_u16(t, 0xd800 | (cp >> 10));
			jt_u16(t, 0xdc00 | (cp & 0x3ff));
		}
	}
}

/* s as a JSON string (NULL: null). */
static void
jt_str(struct jtext *t, const char *s)
{
	if (!s) {
		JT_LIT(t, "null");
		return;
	}
	JT_LIT(t, "\"");
	jt_esc(t, s);
	JT_LIT(t, "\"");
}

static void
jt_int(struct jtext *t, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);

	if (n > 0)
		jt_raw(t, buf, (size_t)n);
}

static void
jt_bool(struct jtext *t, bool v)
{
	if (v)
		JT_LIT(t, "true");
	else
		JT_LIT(t, "false");
}

/* A time as time_json() has it: null for 0, else "YYYY-MM-DDTHH:MM:SSZ". */
static void
jt_time(struct jtext *t, int64_t v)
{
	char buf[32];

	if (v == 0) {
		JT_LIT(t, "null");
		return;
	}
	util_time_format(v, buf, sizeof(buf));
	jt_str(t, buf);
}

/* The "origin" and the "source" of the order's "key". */
static void
key_origin(const struct db_order *o, const char **origin, const char **source)
{
	/* where the key came from (schema 6; older keys say generated) */
	*origin = o->key_origin ? o->key_origin : "generated";
	if (!o->has_key) {
		*origin = "none";
		*source = "none: the CSR was made elsewhere and its key stays "
		          "there";
	} else if (strcmp(*origin, "pkcs12") == 0) {
		*source = "imported from an uploaded PKCS#12";
	} else if (strcmp(*origin, "pem") == 0) {
		*source = "imported from an uploaded PEM file";
	} else {
		*source = "generated by amtcertd";
	}
}

/*
 * The order as JSON text (malloc'd, *len its length), with "warnings"
 * (already JSON text, may be NULL) as the last member. NULL when out of
 * memory.
 */
static char *
order_text(const struct db_order *o, const char *warnings, size_t *len)
{
	struct jtext t = { 0 };
	size_t ntr;
	const struct order_transition *tr = order_transitions(&ntr);
	const char *origin, *source;
	bool first = true;

	key_origin(o, &origin, &source);

	JT_LIT(&t, "{\"id\":");
	jt_str(&t, o->id);
	JT_LIT(&t, ",\"state\":");
	jt_str(&t, order_state_name(o->state));
	JT_LIT(&t, ",\"profile\":");
	jt_str(&t, o->profile ? o->profile : "amt");
	JT_LIT(&t, ",\"subject\":{\"common_name\":");
	jt_str(&t, o->common_name);
	JT_LIT(&t, ",\"organization\":");
	jt_str(&t, o->organization);
	JT_LIT(&t, ",\"organizational_unit\":");
	jt_str(&t, o->organizational_unit);
	JT_LIT(&t, ",\"locality\":");
	jt_str(&t, o->locality);
	JT_LIT(&t, ",\"state\":");
	jt_str(&t, o->state_province);
	JT_LIT(&t, ",\"country\":");
	jt_str(&t, o->country);
	JT_LIT(&t, "},\"san\":[");
	for (size_t i = 0; i < o->san_count; i++) {
		if (i)
			JT_LIT(&t, ",");
		jt_str(&t, o->san[i]);
	}
	JT_LIT(&t, "],\"key\":{\"algorithm\":");
	jt_str(&t, o->key_algorithm);
	JT_LIT(&t, ",\"bits\":");
	jt_int(&t, (int)o->key_bits);
	JT_LIT(&t, ",\"stored\":");
	jt_bool(&t, o->has_key);
	JT_LIT(&t, ",\"source\":");
	jt_str(&t, source);
	JT_LIT(&t, ",\"origin\":");
	jt_str(&t, origin);
	JT_LIT(&t, "},\"has_key\":");
	jt_bool(&t, o->has_key);
	JT_LIT(&t, ",\"csr_source\":");
	jt_str(&t, o->csr_source ? o->csr_source : "generated");
	JT_LIT(&t, ",\"dns_suffix\":");
	jt_str(&t, o->dns_suffix);
	JT_LIT(&t, ",\"allow_suffix_mismatch\":");
	jt_bool(&t, o->allow_suffix_mismatch);
	JT_LIT(&t, ",\"external_ref\":");
	jt_str(&t, o->external_ref);
	JT_LIT(&t, ",\"vendor\":{\"name\":");
	jt_str(&t, o->vendor_name);
	JT_LIT(&t, ",\"product\":");
	jt_str(&t, o->vendor_product);
	JT_LIT(&t, ",\"order_id\":");
	jt_str(&t, o->vendor_order_id);
	JT_LIT(&t, ",\"invoice\":");
	jt_str(&t, o->vendor_invoice);
	JT_LIT(&t, ",\"approver\":");
	jt_str(&t, o->vendor_approver);
	JT_LIT(&t, ",\"dcv_method\":");
	jt_str(&t, o->vendor_dcv_method);
	JT_LIT(&t, ",\"price\":");
	jt_str(&t, o->vendor_price);
	JT_LIT(&t, ",\"validity_days\":");
	if (o->vendor_validity_days)
		jt_int(&t, o->vendor_validity_days);
	else
		JT_LIT(&t, "null");
	JT_LIT(&t, "},\"notes\":");
	jt_str(&t, o->notes);
	JT_LIT(&t, ",\"csr\":");
	jt_str(&t, o->csr_pem);
	JT_LIT(&t, ",\"public_key_sha256\":");
	jt_str(&t, o->public_key_sha256);
	JT_LIT(&t, ",\"renewal_of\":");
	jt_str(&t, o->renewal_of);
	JT_LIT(&t, ",\"created_at\":");
	jt_time(&t, o->created_at);
	JT_LIT(&t, ",\"updated_at\":");
	jt_time(&t, o->updated_at);
	JT_LIT(&t, ",\"version\":");
	jt_int(&t, o->version);
	JT_LIT(&t, ",\"allowed_transitions\":[");
	for (size_t i = 0; i < ntr; i++) {
		if (tr[i].from != o->state)
			continue;
		if (!first)
			JT_LIT(&t, ",");
		first = false;
		jt_str(&t, order_state_name(tr[i].to));
	}
	JT_LIT(&t, "],\"leaf_sha256\":");
	jt_str(&t, o->leaf_sha256);
	JT_LIT(&t, ",\"leaf_not_after\":");
	jt_time(&t, o->leaf_not_after);
	JT_LIT(&t, ",\"chain_not_after\":");
	jt_time(&t, o->chain_not_after);
	JT_LIT(&t, ",\"links\":{\"self\":\"/api/v1/orders/");
	jt_esc(&t, o->id);
	JT_LIT(&t, "\",\"csr\":\"/api/v1/orders/");
	jt_esc(&t, o->id);
	JT_LIT(&t, "/csr\",\"events\":\"/api/v1/orders/");
	jt_esc(&t, o->id);
	JT_LIT(&t, "/events\"}");
	if (warnings) {
		JT_LIT(&t, ",\"warnings\":");
		jt_raw(&t, warnings, strlen(warnings));
	}
	JT_LIT(&t, "}");
	if (t.failed)
		return NULL;
	*len = t.len;
	return t.p;
}

json_t *
api_order_json(const struct db_order *o)
{
	size_t len;
	char *text = order_text(o, NULL, &len);
	json_t *j = text ? json_loadb(text, len, 0, NULL) : NULL;

	free(text);
	return j;
}

enum MHD_Result
api_reply_order(struct api_request *req, unsigned status,
                const struct db_order *o, json_t *warnings)
{
	char etag[32];
	char *w = NULL, *text;
	size_t len = 0;
	enum MHD_Result res;

	if (warnings) {
		w = json_dumps(warnings, JSON_COMPACT | JSON_ENSURE_ASCII |
		                             JSON_ENCODE_ANY);
		if (!w)
			return api_reply_internal(req, ERR_NOMEM);
	}
	text = order_text(o, w, &len);
	free(w);
	if (!text)
		return api_reply_internal(req, ERR_NOMEM);
	etag_of(o, etag, sizeof(etag));
	api_add_header(req, "ETag", etag);
	res = api_reply(req, status, "application/json", text, len);
	free(text);
	return res;
}

/* ---- validation -----------------------------------------------------------
 */

/*
 * Collects rule violations (422) and warnings; type errors are answered at
 * once with 400 because the request is malformed, not merely wrong.
 */
struct check {
	struct api_request *req;
	json_t *errors;
	json_t *warnings;
	bool replied;
	enum MHD_Result res;
};

static void
check_error(struct check *c, const char *field, const char *rule,
            const char *message, const char *fix)
{
	json_array_append_new(
	    c->errors, json_pack("{s:s, s:s, s:s, s:s}", "field", field, "rule",
	                         rule, "message", message, "fix", fix));
}

static void
check_warn(struct check *c, const char *field, const char *rule,
           const char *message)
{
	json_array_append_new(c->warnings,
	                      json_pack("{s:s, s:s, s:s}", "field", field,
	                                "rule", rule, "message", message));
}

static void
type_error(struct check *c, const char *field, const char *want)
{
	char detail[160];

	if (c->replied)
		return;
	snprintf(detail, sizeof(detail), "%s must be %s", field, want);
	c->res = api_reply_problem(c->req, MHD_HTTP_BAD_REQUEST, "invalid_type",
	                           detail, field, NULL);
	c->replied = true;
}

/*
 * Reads an optional string member. NULL (absent or null) is "unset".
 * Over max bytes is a rule violation.
 */
static const char *
opt_string(struct check *c, json_t *obj, const char *key, const char *field,
           size_t max)
{
	json_t *v = json_object_get(obj, key);
	char msg[128], fix[96];

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		type_error(c, field, "a string");
		return NULL;
	}
	if (json_string_length(v) > max) {
		snprintf(msg, sizeof(msg), "%s is longer than %zu bytes", field,
		         max);
		snprintf(fix, sizeof(fix), "shorten it to at most %zu bytes",
		         max);
		check_error(c, field, "max_length", msg, fix);
		return NULL;
	}
	return json_string_value(v);
}

static bool
opt_bool(struct check *c, json_t *obj, const char *key, const char *field)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return false;
	if (!json_is_boolean(v)) {
		type_error(c, field, "true or false");
		return false;
	}
	return json_is_true(v);
}

/* An object member that must be an object when present. */
static json_t *
opt_object(struct check *c, json_t *obj, const char *key,
           const char *const *keys, const char *prefix)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_object(v)) {
		type_error(c, key, "an object");
		return NULL;
	}
	if (!c->replied &&
	    !api_json_only_keys(c->req, v, keys, prefix, &c->res))
		c->replied = true;
	return v;
}

static bool
tld_is_private(const char *name)
{
	static const char *const private_tlds[] = {
		"local",     "localdomain", "lan",       "internal", "intranet",
		"corp",      "home",        "private",   "test",     "invalid",
		"localhost", "example",     "home.arpa", NULL
	};
	const char *dot = strrchr(name, '.');
	const char *tld = dot ? dot + 1 : name;

	for (size_t i = 0; private_tlds[i]; i++) {
		if (strcasecmp(tld, private_tlds[i]) == 0)
			return true;
	}
	return false;
}

static void
check_hostname(struct check *c, const char *field, const char *name)
{
	char msg[384];

	if (!pki_name_is_fqdn(name, true)) {
		snprintf(msg, sizeof(msg),
		         "\"%.253s\" is not a fully qualified host name", name);
		check_error(c, field, "fqdn", msg,
		            "use the host's full DNS name, e.g. "
		            "rcs.example.com, or a leftmost wildcard such as "
		            "*.example.com");
		return;
	}
	if (tld_is_private(name)) {
		snprintf(msg, sizeof(msg),
		         "\"%.253s\" is under a private top-level domain; "
		         "no public CA issues for it",
		         name);
		check_error(c, field, "public_domain", msg,
		            "use a public domain you own, and set the MEBx "
		            "\"PKI DNS Suffix\" of the AMT devices to it "
		            "(Intel KB 000100444)");
	}
}

struct subject_in {
	struct pki_subject subj; /* borrowed strings */
	const char *san[MAX_SAN];
	size_t nsan;
};

static void
check_subject(struct check *c, const struct pki_subject *s, bool from_csr)
{
	const char *cnfield = from_csr ? "csr" : "subject.common_name";
	char msg[192];

	if (util_str_empty(s->common_name)) {
		check_error(c, cnfield, "required",
		            "a common name (CN) is required",
		            from_csr ? "make the CSR again with the RCS "
		                       "host's FQDN as CN"
		                     : "set subject.common_name to the FQDN "
		                       "of the provisioning server, e.g. "
		                       "rcs.example.com");
	} else if (strlen(s->common_name) > 64) {
		check_error(c, cnfield, "max_length",
		            "the CN is longer than 64 characters (X.509 "
		            "upper bound)",
		            "use a shorter host name, or a wildcard");
	} else {
		check_hostname(c, cnfield, s->common_name);
	}
	if (s->country && !pki_country_is_valid(s->country)) {
		snprintf(msg, sizeof(msg),
		         "\"%.16s\" is not an ISO 3166-1 alpha-2 country "
		         "code",
		         s->country);
		check_error(c, from_csr ? "csr" : "subject.country", "iso3166",
		            msg,
		            strcmp(s->country, "UK") == 0
		                ? "use GB for the United Kingdom"
		                : "use the two upper-case letters of "
		                  "ISO 3166-1, e.g. US, DE, GB");
	}
	if (s->state && pki_state_looks_abbreviated(s->state)) {
		snprintf(msg, sizeof(msg),
		         "state \"%.32s\" looks abbreviated; CAs expect it "
		         "spelled out (e.g. California, not CA)",
		         s->state);
		check_warn(c, from_csr ? "csr" : "subject.state",
		           "state_spelled_out", msg);
	}
	if (!util_str_empty(s->organizational_unit))
		check_warn(c, from_csr ? "csr" : "subject.organizational_unit",
		           "ou_dropped",
		           "public CAs drop the OU since 2022; AMT relies on "
		           "the AMT OID (2.16.840.1.113741.1.2.3) the CA's "
		           "AMT product adds, not on the OU");
}

static void
check_suffix(struct check *c, const char *cn, const char *suffix,
             bool allow_mismatch)
{
	char msg[640];
	bool intel, rps;

	if (!suffix || !cn || !pki_name_is_fqdn(cn, true))
		return;
	if (!pki_name_is_fqdn(suffix, false)) {
		check_error(c, "dns_suffix", "fqdn",
		            "dns_suffix is not a DNS domain name",
		            "use the domain of DHCP option 15 or of the MEBx "
		            "PKI DNS Suffix, e.g. example.com");
		return;
	}
	intel = pki_suffix_matches_intel(cn, suffix);
	rps = pki_suffix_matches_rps(cn, suffix);
	if (!intel) {
		snprintf(msg, sizeof(msg),
		         "CN \"%.64s\" does not match the AMT DNS suffix "
		         "\"%.253s\" by Intel's rule (the suffix must end the "
		         "CN on a label boundary, or share its last labels "
		         "for .com, .net, co.uk-style domains)%s",
		         cn, suffix,
		         rps ? "; RPS's last-two-labels rule would accept it"
		             : "; RPS's last-two-labels rule rejects it too");
		if (allow_mismatch)
			check_warn(c, "dns_suffix", "amt_suffix", msg);
		else
			check_error(c, "subject.common_name", "amt_suffix", msg,
			            "use a CN under the suffix, or set the "
			            "MEBx PKI DNS Suffix to the CN's domain; "
			            "send \"allow_suffix_mismatch\": true if "
			            "this is intended");
	} else if (!rps) {
		snprintf(msg, sizeof(msg),
		         "Open AMT RPS compares only the last two labels and "
		         "will reject CN \"%.64s\" for suffix \"%.253s\"",
		         cn, suffix);
		check_warn(c, "dns_suffix", "rps_suffix", msg);
	}
}

static void
check_key(struct check *c, const char *alg, long long bits, bool from_csr)
{
	const char *field = from_csr ? "csr" : "key.bits";
	char msg[160];

	if (alg && strcmp(alg, "rsa") != 0) {
		snprintf(msg, sizeof(msg),
		         "key algorithm %.16s is not usable: AMT needs RSA "
		         "and node-forge (RPS, MeshCentral) drops other keys",
		         alg);
		check_error(c, from_csr ? "csr" : "key.algorithm",
		            "rsa_required", msg,
		            "use an RSA key of 2048 bits (or 3072/4096)");
		return;
	}
	if (bits < 2048) {
		snprintf(msg, sizeof(msg),
		         "RSA %lld bits is below the 2048 bits AMT (CSME 16+) "
		         "and RPS require",
		         bits);
		check_error(c, field, "rsa_min_2048", msg,
		            "use 2048 bits (the CA default) or more");
		return;
	}
	if (!from_csr && bits != 2048 && bits != 3072 && bits != 4096) {
		check_error(c, field, "rsa_bits",
		            "only 2048, 3072 and 4096-bit RSA keys are made",
		            "choose 2048, 3072 or 4096");
		return;
	}
	if (bits == 3072)
		check_warn(c, field, "rsa_3072_new_amt",
		           "3072-bit keys are announced only for AMT 22; "
		           "older firmware may refuse them: 2048 is safest");
	else if (bits >= 4096)
		check_warn(c, field, "rsa_4096_slow",
		           "4096-bit keys work from AMT 6 but make TLS "
		           "handshakes slow on older AMT; 2048 is the usual "
		           "choice");
}

static const char *const dcv_methods[] = { "email", "http", "https",
	                                   "cname", "dns",  NULL };

struct vendor_in {
	const char *name, *product, *order_id, *invoice, *approver, *dcv_method,
	    *price;
	bool validity_set;
	int64_t validity_days;
	bool present[8]; /* which members were present, null included */
};

static void
read_vendor(struct check *c, json_t *v, struct vendor_in *out)
{
	static const char *const keys[] = {
		"name",       "product", "order_id",      "invoice", "approver",
		"dcv_method", "price",   "validity_days", NULL
	};
	json_t *vd;

	memset(out, 0, sizeof(*out));
	if (!v)
		return;
	for (size_t i = 0; keys[i]; i++)
		out->present[i] = json_object_get(v, keys[i]) != NULL;
	out->name = opt_string(c, v, "name", "vendor.name", MAX_TEXT);
	out->product = opt_string(c, v, "product", "vendor.product", MAX_TEXT);
	out->order_id =
	    opt_string(c, v, "order_id", "vendor.order_id", MAX_TEXT);
	out->invoice = opt_string(c, v, "invoice", "vendor.invoice", MAX_TEXT);
	out->approver =
	    opt_string(c, v, "approver", "vendor.approver", MAX_TEXT);
	out->dcv_method =
	    opt_string(c, v, "dcv_method", "vendor.dcv_method", MAX_TEXT);
	out->price = opt_string(c, v, "price", "vendor.price", MAX_TEXT);
	if (out->dcv_method) {
		bool ok = false;
		for (size_t i = 0; dcv_methods[i] && !ok; i++)
			ok = strcmp(out->dcv_method, dcv_methods[i]) == 0;
		if (!ok)
			check_error(c, "vendor.dcv_method", "enum",
			            "unknown domain control validation method",
			            "use one of email, http, https, cname, "
			            "dns");
	}
	vd = json_object_get(v, "validity_days");
	if (vd && !json_is_null(vd)) {
		if (!json_is_integer(vd)) {
			type_error(c, "vendor.validity_days", "an integer");
			return;
		}
		out->validity_set = true;
		out->validity_days = json_integer_value(vd);
		if (out->validity_days < 1 || out->validity_days > 3650)
			check_error(c, "vendor.validity_days", "range",
			            "validity_days must be 1..3650",
			            "give the validity in days, e.g. 200");
		else if (out->validity_days > VALIDITY_CAP)
			check_warn(c, "vendor.validity_days", "validity_cap",
			           "public TLS certificates are capped at 200 "
			           "days since March 2026 (CA/B Forum "
			           "SC-081); the CA will issue less");
	} else if (vd) {
		out->validity_set = true;
		out->validity_days = 0;
	}
}

/* ---- POST /api/v1/orders --------------------------------------------------
 */

/* Canonical form of a JSON body for the Idempotency-Key comparison. */
static int
body_hash(json_t *body, char *out)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	int ret;

	if (!text)
		return ERR_NOMEM;
	ret = pki_sha256_hex(text, strlen(text), out);
	free(text);
	return ret;
}

static bool
idem_key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > MAX_IDEM_KEY)
		return false;
	for (; *k; k++) {
		if (*k < 0x21 || *k > 0x7e)
			return false;
	}
	return true;
}

/*
 * Answers a repeated Idempotency-Key: the first result when the body is
 * the same, 422 when it is not. Returns false when the key is unknown.
 */
static bool
idem_replay(struct api_request *req, const char *key, const char *hash,
            enum MHD_Result *res)
{
	char *order_id = NULL, *stored_hash = NULL;
	struct db_order *o = NULL;
	char loc[96];
	int ret;

	ret =
	    db_idempotency_get(req->srv->cfg.db, key, &order_id, &stored_hash);
	if (ret == ERR_NOT_FOUND)
		return false;
	if (ret < 0) {
		*res = api_reply_internal(req, ret);
		return true;
	}
	if (strcmp(stored_hash, hash) != 0) {
		*res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		    "idempotency_key_reused",
		    "this Idempotency-Key was used with a different body",
		    "Idempotency-Key", NULL);
		goto done;
	}
	ret = db_order_get(req->srv->cfg.db, order_id, &o);
	if (ret < 0) {
		*res = api_reply_internal(req, ret);
		goto done;
	}
	snprintf(loc, sizeof(loc), "/api/v1/orders/%s", o->id);
	api_add_header(req, "Location", loc);
	api_add_header(req, "Idempotent-Replayed", "true");
	*res = api_reply_order(req, MHD_HTTP_CREATED, o, NULL);
done:
	free(order_id);
	free(stored_hash);
	db_order_free(o);
	return true;
}

/* Reads the "san" array into in->san (borrowed strings). */
static void
read_san(struct check *c, json_t *body, struct subject_in *in)
{
	json_t *a = json_object_get(body, "san"), *v;
	size_t i;
	char field[32];

	if (!a || json_is_null(a))
		return;
	if (!json_is_array(a)) {
		type_error(c, "san", "an array of DNS names");
		return;
	}
	if (json_array_size(a) > MAX_SAN) {
		check_error(c, "san", "max_items",
		            "at most 100 subject alternative names",
		            "split the names over several orders");
		return;
	}
	json_array_foreach(a, i, v)
	{
		snprintf(field, sizeof(field), "san[%zu]", i);
		if (!json_is_string(v)) {
			type_error(c, field, "a string");
			return;
		}
		if (json_string_length(v) > 253) {
			check_error(c, field, "max_length",
			            "a DNS name has at most 253 characters",
			            "shorten the name");
			continue;
		}
		check_hostname(c, field, json_string_value(v));
		in->san[in->nsan++] = json_string_value(v);
	}
}

/* Everything the create handler reads from its body. */
struct create_in {
	struct subject_in subject;
	const char *alg;
	long long bits;
	const char *dns_suffix;
	bool allow_mismatch;
	const char *external_ref, *notes, *csr_pem;
	struct vendor_in vendor;
};

static void
read_create(struct check *c, json_t *body, struct create_in *in)
{
	static const char *const top_keys[] = { "subject",
		                                "san",
		                                "key",
		                                "dns_suffix",
		                                "allow_suffix_mismatch",
		                                "external_ref",
		                                "vendor",
		                                "notes",
		                                "csr",
		                                "profile",
		                                NULL };
	static const char *const subject_keys[] = {
		"common_name", "organization", "organizational_unit",
		"locality",    "state",        "country",
		NULL
	};
	static const char *const key_keys[] = { "algorithm", "bits", NULL };
	static const char *const vendor_keys[] = {
		"name",       "product", "order_id",      "invoice", "approver",
		"dcv_method", "price",   "validity_days", NULL
	};
	json_t *subject, *key, *vendor, *bits;
	const char *profile;

	if (!api_json_only_keys(c->req, body, top_keys, "", &c->res)) {
		c->replied = true;
		return;
	}
	subject = opt_object(c, body, "subject", subject_keys, "subject.");
	key = opt_object(c, body, "key", key_keys, "key.");
	vendor = opt_object(c, body, "vendor", vendor_keys, "vendor.");
	if (c->replied)
		return;
	in->csr_pem = opt_string(c, body, "csr", "csr", MAX_CSR_PEM);
	if (subject) {
		struct pki_subject *s = &in->subject.subj;
		s->common_name = (char *)opt_string(c, subject, "common_name",
		                                    "subject.common_name", 253);
		s->organization = (char *)opt_string(
		    c, subject, "organization", "subject.organization", 64);
		s->organizational_unit =
		    (char *)opt_string(c, subject, "organizational_unit",
		                       "subject.organizational_unit", 64);
		s->locality = (char *)opt_string(c, subject, "locality",
		                                 "subject.locality", 128);
		s->state = (char *)opt_string(c, subject, "state",
		                              "subject.state", 128);
		s->country = (char *)opt_string(c, subject, "country",
		                                "subject.country", 16);
	}
	read_san(c, body, &in->subject);
	in->alg = "rsa";
	in->bits = 2048;
	if (key) {
		const char *alg =
		    opt_string(c, key, "algorithm", "key.algorithm", 16);
		if (alg)
			in->alg = alg;
		bits = json_object_get(key, "bits");
		if (bits && !json_is_null(bits)) {
			if (!json_is_integer(bits))
				type_error(c, "key.bits", "an integer");
			else
				in->bits = json_integer_value(bits);
		}
	}
	in->dns_suffix = opt_string(c, body, "dns_suffix", "dns_suffix", 253);
	in->allow_mismatch =
	    opt_bool(c, body, "allow_suffix_mismatch", "allow_suffix_mismatch");
	in->external_ref =
	    opt_string(c, body, "external_ref", "external_ref", MAX_TEXT);
	in->notes = opt_string(c, body, "notes", "notes", MAX_NOTES);
	profile = opt_string(c, body, "profile", "profile", 16);
	if (profile && strcmp(profile, "amt") != 0)
		check_error(c, "profile", "enum", "unknown profile",
		            "use \"amt\" (the default)");
	read_vendor(c, vendor, &in->vendor);
	if (in->csr_pem && (subject || key || json_object_get(body, "san")))
		check_error(c, "csr", "csr_exclusive",
		            "csr cannot be combined with subject, san or key: "
		            "they come from the CSR",
		            "send either csr alone, or subject/san/key for a "
		            "key made by amtcertd");
	if (!in->csr_pem && !subject)
		check_error(c, "subject", "required",
		            "subject (or csr) is required",
		            "send subject.common_name at least, or a CSR "
		            "made elsewhere as \"csr\"");
}

static void
order_fill_common(struct db_order *o, const struct create_in *in)
{
	o->profile = (char *)"amt";
	o->dns_suffix = (char *)in->dns_suffix;
	o->allow_suffix_mismatch = in->allow_mismatch;
	o->external_ref = (char *)in->external_ref;
	o->notes = (char *)in->notes;
	o->vendor_name = (char *)in->vendor.name;
	o->vendor_product = (char *)in->vendor.product;
	o->vendor_order_id = (char *)in->vendor.order_id;
	o->vendor_invoice = (char *)in->vendor.invoice;
	o->vendor_approver = (char *)in->vendor.approver;
	o->vendor_dcv_method = (char *)in->vendor.dcv_method;
	o->vendor_price = (char *)in->vendor.price;
	o->vendor_validity_days = in->vendor.validity_days;
}

/* The SAN list of a new order: CN first, then the others, no duplicates. */
static size_t
merge_sans(const char *cn, const char *const *san, size_t nsan,
           const char **out)
{
	size_t n = 0;

	if (cn)
		out[n++] = cn;
	for (size_t i = 0; i < nsan; i++) {
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcasecmp(out[k], san[i]) == 0;
		if (!dup)
			out[n++] = san[i];
	}
	return n;
}

/*
 * POST /api/v1/orders: makes the key and the CSR (or wraps a CSR made
 * elsewhere) and stores the order in state key_ready.
 * 201 order + Location; 400 invalid_json, invalid_type, unknown_field,
 * invalid_header; 401; 413; 415; 422 validation_failed, invalid_csr,
 * idempotency_key_reused; 503 busy.
 */
/*
 * Reads and checks a creation body into in (parsing an imported CSR into
 * *csr). false after a queued 4xx (422 validation_failed lists every
 * error and warning).
 */
static bool
create_read(struct check *c, json_t *body, struct create_in *in,
            struct pki_csr_info **csr, enum MHD_Result *res)
{
	read_create(c, body, in);
	if (c->replied) {
		*res = c->res;
		return false;
	}
	if (in->csr_pem && json_array_size(c->errors) == 0) {
		const char *why = NULL;
		int ret =
		    pki_csr_parse(in->csr_pem, strlen(in->csr_pem), csr, &why);

		if (ret == ERR_INVALID || ret == ERR_TOO_LARGE) {
			*res = api_reply_problem(
			    c->req, MHD_HTTP_UNPROCESSABLE_CONTENT,
			    "invalid_csr", why ? why : "unreadable CSR", "csr",
			    NULL);
			return false;
		}
		if (ret < 0) {
			*res = api_reply_internal(c->req, ret);
			return false;
		}
		in->subject.subj = (*csr)->subject;
		in->alg = (*csr)->key_algorithm;
		in->bits = (*csr)->key_bits;
		for (size_t i = 0; i < (*csr)->san_count && i < MAX_SAN; i++)
			in->subject.san[in->subject.nsan++] = (*csr)->san[i];
	}
	if (json_array_size(c->errors) == 0) {
		check_subject(c, &in->subject.subj, *csr != NULL);
		check_key(c, in->alg, in->bits, *csr != NULL);
		check_suffix(c, in->subject.subj.common_name, in->dns_suffix,
		             in->allow_mismatch);
	}
	if (json_array_size(c->errors) > 0) {
		json_t *first = json_array_get(c->errors, 0);
		const char *field =
		    json_string_value(json_object_get(first, "field"));
		char detail[512];

		snprintf(detail, sizeof(detail), "%s: %s", field,
		         json_string_value(json_object_get(first, "message")));
		*res = api_reply_problem(c->req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                         "validation_failed", detail, field,
		                         json_pack("{s:O, s:O}", "errors",
		                                   c->errors, "warnings",
		                                   c->warnings));
		return false;
	}
	return true;
}

/* The order to store, from what create_read() accepted. */
static void
create_template(const struct create_in *in, const struct pki_csr_info *csr,
                const char **sans, struct db_order *o)
{
	memset(o, 0, sizeof(*o));
	o->common_name = in->subject.subj.common_name;
	o->organization = in->subject.subj.organization;
	o->organizational_unit = in->subject.subj.organizational_unit;
	o->locality = in->subject.subj.locality;
	o->state_province = in->subject.subj.state;
	o->country = in->subject.subj.country;
	o->san_count =
	    merge_sans(o->common_name, in->subject.san, in->subject.nsan, sans);
	o->san = (char **)sans;
	o->key_algorithm = (char *)in->alg;
	o->key_bits = (unsigned)in->bits;
	order_fill_common(o, in);
	if (csr) {
		o->csr_pem = csr->pem;
		o->public_key_sha256 = (char *)csr->spki_sha256;
	}
}

/*
 * Checks the Idempotency-Key header and answers a replay. false when the
 * request goes on (*hash set when a key was given); true after a queued
 * answer.
 */
static bool
create_idempotent(struct api_request *req, const char *idem, json_t *body,
                  char *hash, enum MHD_Result *res)
{
	int ret;

	if (!idem)
		return false;
	if (!idem_key_ok(idem)) {
		*res = api_reply_problem(req, MHD_HTTP_BAD_REQUEST,
		                         "invalid_header",
		                         "Idempotency-Key must be 1..255 "
		                         "visible ASCII characters",
		                         "Idempotency-Key", NULL);
		return true;
	}
	ret = body_hash(body, hash);
	if (ret < 0) {
		*res = api_reply_internal(req, ret);
		return true;
	}
	return idem_replay(req, idem, hash, res);
}

/*
 * POST /api/v1/orders: makes the key and the CSR (or wraps a CSR made
 * elsewhere) and stores the order in state key_ready.
 * 201 order + Location; 400 invalid_json, invalid_type, unknown_field,
 * invalid_header; 401; 413; 415; 422 validation_failed, invalid_csr,
 * idempotency_key_reused; 503 busy.
 */
enum MHD_Result
api_orders_create(struct api_request *req)
{
	struct check c = { .req = req };
	struct create_in in;
	struct core_actor who = api_actor(req);
	struct db_order o, *stored = NULL;
	struct pki_csr_info *csr = NULL;
	const char *idem = api_header(req, "Idempotency-Key");
	const char *sans[MAX_SAN + 1];
	char hash[PKI_SHA256_HEX_LEN + 1], loc[96];
	json_t *body = NULL;
	enum MHD_Result res;
	int ret;

	memset(&in, 0, sizeof(in));
	c.errors = json_array();
	c.warnings = json_array();
	body = api_body_json(req, json_types, false, &res);
	if (!body || create_idempotent(req, idem, body, hash, &res) ||
	    !create_read(&c, body, &in, &csr, &res))
		goto out;
	create_template(&in, csr, sans, &o);
	ret = core_order_create(&req->srv->core, &o, &in.subject.subj,
	                        in.subject.san, in.subject.nsan, idem,
	                        idem ? hash : NULL, &who, &stored);
	if (ret == ERR_CONFLICT && idem && idem_replay(req, idem, hash, &res))
		goto out; /* a concurrent twin with the same key won */
	if (ret < 0) {
		res = api_reply_refusal(req, ret, NULL);
		goto out;
	}
	snprintf(loc, sizeof(loc), "/api/v1/orders/%s", stored->id);
	api_add_header(req, "Location", loc);
	res = api_reply_order(req, MHD_HTTP_CREATED, stored, c.warnings);
out:
	pki_csr_info_free(csr);
	db_order_free(stored);
	json_decref(c.errors);
	json_decref(c.warnings);
	json_decref(body);
	return res;
}

/* ---- GET /api/v1/orders and /api/v1/orders/summary ---------------------- */

static const char *
query(struct api_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	                                   name);
}

static bool
parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s || *s == '+' || *s == '-' || *s == ' ')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* The sort parameter's values; created and updated default to desc. */
static const char *const sort_names[DB_ORDER_SORT_COUNT] = {
	[DB_ORDER_SORT_CREATED] = "created",
	[DB_ORDER_SORT_UPDATED] = "updated",
	[DB_ORDER_SORT_NEEDS_ACTION] = "needs_action",
	[DB_ORDER_SORT_EXPIRY] = "expiry",
	[DB_ORDER_SORT_CN] = "cn",
};

/* The longest CN key a cursor carries: more than any CN the API takes. */
#define CURSOR_TEXT_MAX 1024

/* 400 invalid_parameter naming field; false, for the caller to return. */
static bool
bad_parameter(struct api_request *req, enum MHD_Result *res, const char *field,
              const char *detail)
{
	*res = api_reply_problem(req, MHD_HTTP_BAD_REQUEST, "invalid_parameter",
	                         detail, field, NULL);
	return false;
}

/*
 * The filters the list and the counts share: state, external_ref, q.
 * false with *res set (400 invalid_parameter) when one is wrong.
 */
static bool
read_filter(struct api_request *req, struct db_order_filter *f,
            enum MHD_Result *res)
{
	f->state = query(req, "state");
	f->external_ref = query(req, "external_ref");
	f->q = query(req, "q");
	if (f->state && !order_state_parse(f->state, &(enum order_state){ 0 }))
		return bad_parameter(req, res, "state",
		                     "state is not a known order state");
	if (f->q && strlen(f->q) > MAX_TEXT)
		return bad_parameter(req, res, "q",
		                     "filter values are at most 256 bytes");
	if (f->external_ref && strlen(f->external_ref) > MAX_TEXT)
		return bad_parameter(req, res, "external_ref",
		                     "filter values are at most 256 bytes");
	return true;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A signed decimal ending at '.'; *s moves past the dot. */
static bool
cursor_int(const char **s, long long *out)
{
	const char *p = *s;
	char *end;

	if (!(*p >= '0' && *p <= '9') &&
	    !(*p == '-' && p[1] >= '0' && p[1] <= '9'))
		return false;
	errno = 0;
	*out = strtoll(p, &end, 10);
	if (errno || *end != '.')
		return false;
	*s = end + 1;
	return true;
}

/*
 * A cursor is "<sort>.<a|d>.<priority>.<key>.<seq>.<hex of the CN key>",
 * the place (struct db_order_pos) after the last order of a page, for one
 * sort and direction. Reads c into *pos (text into buf) when it is one
 * of those for f's sort and direction.
 */
static bool
cursor_parse(const char *c, const struct db_order_filter *f,
             struct db_order_pos *pos, char *buf, size_t size)
{
	const char *name = sort_names[f->sort];
	size_t n = strlen(name), hl;
	long long v[3];

	if (strncmp(c, name, n) != 0 || c[n] != '.')
		return false;
	c += n + 1;
	if (c[0] != (f->desc ? 'd' : 'a') || c[1] != '.')
		return false;
	c += 2;
	for (size_t i = 0; i < 3; i++) {
		if (!cursor_int(&c, &v[i]))
			return false;
	}
	if (v[0] < 0 || v[0] >= ORDER_STATE_COUNT || v[2] < 1)
		return false;
	hl = strlen(c);
	if (hl % 2 || hl / 2 >= size)
		return false;
	for (size_t i = 0; i < hl / 2; i++) {
		int hi = hex_digit(c[2 * i]), lo = hex_digit(c[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return false;
		buf[i] = (char)(hi << 4 | lo);
	}
	buf[hl / 2] = '\0';
	if (hl && f->sort != DB_ORDER_SORT_CN)
		return false;
	pos->priority = (unsigned)v[0];
	pos->key = (int64_t)v[1];
	pos->seq = (int64_t)v[2];
	pos->text = f->sort == DB_ORDER_SORT_CN ? buf : NULL;
	return true;
}

/* The cursor for place p of f's sort, as a JSON string. */
static json_t *
cursor_json(const struct db_order_filter *f, const struct db_order_pos *p)
{
	size_t tl = p->text ? strlen(p->text) : 0;
	char head[96], *s;
	json_t *j = NULL;
	int n;

	if (tl > CURSOR_TEXT_MAX)
		return NULL; /* a CN the API never takes: answered with 500 */
	n = snprintf(head, sizeof(head), "%s.%c.%u.%lld.%lld.",
	             sort_names[f->sort], f->desc ? 'd' : 'a', p->priority,
	             (long long)p->key, (long long)p->seq);
	if (n < 0 || (size_t)n >= sizeof(head))
		return NULL;
	s = malloc((size_t)n + 2 * tl + 1);
	if (!s)
		return NULL;
	memcpy(s, head, (size_t)n);
	util_hex((const unsigned char *)(p->text ? p->text : ""), tl, s + n);
	j = json_string(s);
	free(s);
	return j;
}

/*
 * sort, order, limit and cursor into f (the cursor's text into buf).
 * false with *res set (400 invalid_parameter) when one is wrong.
 */
static bool
read_paging(struct api_request *req, struct db_order_filter *f,
            struct db_order_pos *pos, char *buf, size_t size,
            enum MHD_Result *res)
{
	const char *sort = query(req, "sort"), *order = query(req, "order");
	const char *limit = query(req, "limit"), *cursor = query(req, "cursor");
	long long v;

	f->sort = sort ? DB_ORDER_SORT_COUNT : DB_ORDER_SORT_CREATED;
	for (size_t i = 0; sort && i < DB_ORDER_SORT_COUNT; i++) {
		if (strcmp(sort, sort_names[i]) == 0)
			f->sort = (enum db_order_sort)i;
	}
	if (f->sort == DB_ORDER_SORT_COUNT)
		return bad_parameter(req, res, "sort",
		                     "sort must be needs_action, updated, "
		                     "created, expiry or cn");
	f->desc = f->sort == DB_ORDER_SORT_CREATED ||
	          f->sort == DB_ORDER_SORT_UPDATED;
	if (order) {
		if (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
			return bad_parameter(req, res, "order",
			                     "order must be asc or desc");
		f->desc = strcmp(order, "desc") == 0;
	}
	f->limit = LIST_DEFAULT;
	if (limit) {
		if (!parse_int(limit, 1, LIST_MAX, &v))
			return bad_parameter(req, res, "limit",
			                     "limit must be 1..200");
		f->limit = (unsigned)v;
	}
	if (cursor) {
		if (!cursor_parse(cursor, f, pos, buf, size))
			return bad_parameter(
			    req, res, "cursor",
			    "cursor is not one this server "
			    "gave out for this sort and order");
		f->after = pos;
	}
	return true;
}

/* The earlier of two expiry times, 0 (unknown) not counted. */
static int64_t
earliest(int64_t a, int64_t b)
{
	if (!a || !b)
		return a ? a : b;
	return a < b ? a : b;
}

/* An order as the list shows it (openapi.yaml OrderSummary). */
static json_t *
order_summary_json(const struct db_order_item *it)
{
	char self[96];

	snprintf(self, sizeof(self), "/api/v1/orders/%s", it->id);
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:{s:o, s:o}, s:o, s:o, "
	    "s:o, s:I, s:o, s:o, s:o, s:{s:s}}",
	    "id", it->id, "state", order_state_name(it->state), "group",
	    order_group_name(order_state_group(it->state)), "next_action",
	    order_state_next_action(it->state), "common_name",
	    str_or_null(it->common_name), "dns_suffix",
	    str_or_null(it->dns_suffix), "external_ref",
	    str_or_null(it->external_ref), "vendor", "name",
	    str_or_null(it->vendor_name), "order_id",
	    str_or_null(it->vendor_order_id), "renewal_of",
	    str_or_null(it->renewal_of), "created_at",
	    time_json(it->created_at), "updated_at", time_json(it->updated_at),
	    "version", (json_int_t)it->version, "leaf_not_after",
	    time_json(it->leaf_not_after), "chain_not_after",
	    time_json(it->chain_not_after), "expires_at",
	    time_json(earliest(it->leaf_not_after, it->chain_not_after)),
	    "links", "self", self);
}

/*
 * GET /api/v1/orders?state=&external_ref=&q=&sort=&order=&limit=&cursor=:
 * a page of order summaries, sorted by the server (default: newest
 * first). 200 {"items": [...], "next_cursor": "..."|null}; 400
 * invalid_parameter, unknown_parameter; 401.
 */
enum MHD_Result
api_orders_list(struct api_request *req)
{
	static const char *const allowed[] = { "state",  "external_ref",
		                               "q",      "sort",
		                               "order",  "limit",
		                               "cursor", NULL };
	struct db_order_filter f = { 0 };
	struct db_order_pos pos = { 0 };
	struct db_order_list *l = NULL;
	enum MHD_Result res;
	char text[CURSOR_TEXT_MAX + 1];
	json_t *items, *next;
	int ret;

	if (!api_query_only(req, allowed, &res) ||
	    !read_filter(req, &f, &res) ||
	    !read_paging(req, &f, &pos, text, sizeof(text), &res))
		return res;
	ret = db_order_list(req->srv->cfg.db, &f, &l);
	if (ret < 0)
		return api_reply_internal(req, ret);
	items = json_array();
	for (size_t i = 0; items && i < l->count; i++) {
		json_t *it = order_summary_json(&l->items[i]);

		if (!it || json_array_append_new(items, it) < 0) {
			json_decref(items);
			items = NULL;
		}
	}
	next = l->more ? cursor_json(&f, &l->next) : json_null();
	db_order_list_free(l);
	if (!items || !next) {
		json_decref(items);
		json_decref(next);
		return api_reply_internal(req, ERR_NOMEM);
	}
	return api_reply_json(
	    req, MHD_HTTP_OK,
	    json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}

/*
 * GET /api/v1/orders/summary?state=&external_ref=&q=: how many orders
 * match, per state group and per state, the states in "needs action
 * first" order (core/state.h). 200; 400 invalid_parameter,
 * unknown_parameter; 401.
 */
enum MHD_Result
api_orders_summary(struct api_request *req)
{
	static const char *const allowed[] = { "state", "external_ref", "q",
		                               NULL };
	struct db_order_filter f = { 0 };
	struct db_order_counts c;
	int64_t groups[ORDER_GROUP_COUNT] = { 0 };
	json_t *states = json_array(), *g = json_object();
	enum MHD_Result res;
	int ret;

	if (!api_query_only(req, allowed, &res) || !read_filter(req, &f, &res))
		goto out;
	ret = db_order_count(req->srv->cfg.db, &f, &c);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	for (unsigned p = 0; states && p < ORDER_STATE_COUNT; p++) {
		enum order_state s;
		enum order_group grp;

		if (!order_state_at_priority(p, &s))
			break;
		grp = order_state_group(s);
		if ((unsigned)grp < ORDER_GROUP_COUNT)
			groups[grp] += c.by_state[s];
		json_array_append_new(
		    states, json_pack("{s:s, s:s, s:s, s:I}", "state",
		                      order_state_name(s), "group",
		                      order_group_name(grp), "next_action",
		                      order_state_next_action(s), "count",
		                      (json_int_t)c.by_state[s]));
	}
	for (int i = 0; g && i < ORDER_GROUP_COUNT; i++)
		json_object_set_new(g, order_group_name((enum order_group)i),
		                    json_integer(groups[i]));
	res = api_reply_json(req, MHD_HTTP_OK,
	                     json_pack("{s:I, s:o, s:o}", "total",
	                               (json_int_t)c.total, "groups", g,
	                               "states", states));
	return res;
out:
	json_decref(states);
	json_decref(g);
	return res;
}

/* ---- GET /api/v1/orders/{id} ------------------------------------------- */

/* GET /api/v1/orders/{id}: 200 order with ETag; 401; 404. */
enum MHD_Result
api_orders_get(struct api_request *req)
{
	struct db_order *o = NULL;
	enum MHD_Result res;
	int ret = db_order_get(req->srv->cfg.db, req->params[0], &o);

	if (ret == ERR_NOT_FOUND)
		return api_reply_order_not_found(req);
	if (ret < 0)
		return api_reply_internal(req, ret);
	res = api_reply_order(req, MHD_HTTP_OK, o, NULL);
	db_order_free(o);
	return res;
}

/* ---- PATCH /api/v1/orders/{id} ----------------------------------------- */

/*
 * Reads If-Match: "*" or absent = any version (0), "v<n>" = n; anything else
 * is -1 (never matches).
 */
static int64_t
if_match_version(struct api_request *req)
{
	const char *h = api_header(req, "If-Match");
	long long v;
	char buf[32];
	size_t n;

	if (!h || strcmp(h, "*") == 0)
		return 0;
	n = strlen(h);
	if (n < 4 || n >= sizeof(buf) || h[0] != '"' || h[1] != 'v' ||
	    h[n - 1] != '"')
		return -1;
	memcpy(buf, h + 2, n - 3);
	buf[n - 3] = '\0';
	if (!parse_int(buf, 1, INT64_MAX, &v))
		return -1;
	return v;
}

/* "" for an explicit null (clear), the string, or NULL when absent. */
static const char *
patch_value(bool present, const char *v)
{
	return present ? (v ? v : "") : NULL;
}

/*
 * Reads a PATCH body into p (v holds the vendor strings p points at).
 * false after a queued 400/422.
 */
static bool
patch_read(struct check *c, json_t *body, struct db_order_patch *p,
           struct vendor_in *v, enum MHD_Result *res)
{
	static const char *const keys[] = { "external_ref", "notes", "vendor",
		                            NULL };
	static const char *const vendor_keys[] = {
		"name",       "product", "order_id",      "invoice", "approver",
		"dcv_method", "price",   "validity_days", NULL
	};
	const char *ext, *notes;
	json_t *vendor;

	if (!api_json_only_keys(c->req, body, keys, "", res))
		return false;
	vendor = opt_object(c, body, "vendor", vendor_keys, "vendor.");
	ext = opt_string(c, body, "external_ref", "external_ref", MAX_TEXT);
	notes = opt_string(c, body, "notes", "notes", MAX_NOTES);
	read_vendor(c, vendor, v);
	if (c->replied) {
		*res = c->res;
		return false;
	}
	if (json_array_size(c->errors) > 0) {
		json_t *first = json_array_get(c->errors, 0);

		*res = api_reply_problem(
		    c->req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    json_string_value(json_object_get(first, "message")),
		    json_string_value(json_object_get(first, "field")),
		    json_pack("{s:O}", "errors", c->errors));
		return false;
	}
	memset(p, 0, sizeof(*p));
	p->external_ref =
	    patch_value(json_object_get(body, "external_ref"), ext);
	p->notes = patch_value(json_object_get(body, "notes"), notes);
	p->vendor_name = patch_value(v->present[0], v->name);
	p->vendor_product = patch_value(v->present[1], v->product);
	p->vendor_order_id = patch_value(v->present[2], v->order_id);
	p->vendor_invoice = patch_value(v->present[3], v->invoice);
	p->vendor_approver = patch_value(v->present[4], v->approver);
	p->vendor_dcv_method = patch_value(v->present[5], v->dcv_method);
	p->vendor_price = patch_value(v->present[6], v->price);
	p->set_validity = v->present[7];
	p->vendor_validity_days = v->validity_days;
	return true;
}

/*
 * PATCH /api/v1/orders/{id}: external_ref, notes and vendor fields, as a
 * JSON merge patch (null clears). If-Match with the ETag guards against
 * lost updates.
 * 200 order; 400 invalid_json, invalid_type, unknown_field; 401; 404;
 * 412 etag_mismatch; 413; 415; 422 validation_failed.
 */
enum MHD_Result
api_orders_patch(struct api_request *req)
{
	struct check c = { .req = req };
	struct core_actor who = api_actor(req);
	struct core_problem pb;
	struct db_order_patch p;
	struct db_order *o = NULL;
	struct vendor_in v;
	json_t *body;
	enum MHD_Result res;
	int64_t want = if_match_version(req);
	int ret;

	c.errors = json_array();
	c.warnings = json_array();
	body = api_body_json(req, patch_types, false, &res);
	if (!body || !patch_read(&c, body, &p, &v, &res))
		goto out;
	if (want < 0) {
		res = api_reply_problem(req, MHD_HTTP_PRECONDITION_FAILED,
		                        "etag_mismatch",
		                        "If-Match does not name the order's "
		                        "current ETag; GET it again",
		                        "If-Match", NULL);
		goto out;
	}
	ret = core_order_patch(&req->srv->core, req->params[0], want, &p, &who,
	                       &o, &pb);
	res = ret < 0 ? api_reply_refusal(req, ret, &pb)
	              : api_reply_order(req, MHD_HTTP_OK, o, c.warnings);
out:
	db_order_free(o);
	json_decref(c.errors);
	json_decref(c.warnings);
	json_decref(body);
	return res;
}

/* ---- POST /api/v1/orders/{id}/cancel ----------------------------------- */

/*
 * Moves an order to `to` from any state that may lead there, with an event.
 * 200 order; 404; 409 invalid_transition with the allowed ones.
 */
enum MHD_Result
api_order_transition(struct api_request *req, enum order_trigger t,
                     const char *reason, const struct db_order_patch *p)
{
	struct core_actor who = api_actor(req);
	struct core_problem pb;
	struct db_order *o = NULL;
	enum MHD_Result res;
	int ret = core_order_transition(&req->srv->core, req->params[0], t, p,
	                                reason, &who, &o, &pb);

	if (ret < 0)
		return api_reply_refusal(req, ret, &pb);
	res = api_reply_order(req, MHD_HTTP_OK, o, NULL);
	db_order_free(o);
	return res;
}

/*
 * POST /api/v1/orders/{id}/cancel, optional body {"reason": "..."}.
 * 200 order; 400; 401; 404; 409 invalid_transition; 413; 415; 422.
 */
enum MHD_Result
api_orders_cancel(struct api_request *req)
{
	static const char *const keys[] = { "reason", NULL };
	struct check c = { .req = req };
	json_t *body;
	const char *reason;
	enum MHD_Result res;

	c.errors = json_array();
	body = api_body_json(req, json_types, true, &res);
	if (!body)
		goto out;
	if (!api_json_only_keys(req, body, keys, "", &res))
		goto out;
	reason = opt_string(&c, body, "reason", "reason", MAX_REASON);
	if (c.replied) {
		res = c.res;
		goto out;
	}
	if (json_array_size(c.errors) > 0) {
		res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    "reason is longer than 1024 bytes", "reason", NULL);
		goto out;
	}
	res = api_order_transition(req, ORDER_T_CANCEL, reason, NULL);
out:
	json_decref(c.errors);
	json_decref(body);
	return res;
}

/* ---- GET /api/v1/orders/{id}/csr --------------------------------------- */

/* GET /api/v1/orders/{id}/csr: 200 application/pkcs10 PEM; 401; 404. */
enum MHD_Result
api_orders_csr(struct api_request *req)
{
	struct db_order *o = NULL;
	enum MHD_Result res;
	char name[96], disp[128];
	int ret = db_order_get(req->srv->cfg.db, req->params[0], &o);

	if (ret == ERR_NOT_FOUND)
		return api_reply_order_not_found(req);
	if (ret < 0)
		return api_reply_internal(req, ret);
	core_download_name(o->common_name, ".csr", name, sizeof(name));
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", name);
	api_add_header(req, "Content-Disposition", disp);
	res = api_reply(req, MHD_HTTP_OK, "application/pkcs10", o->csr_pem,
	                strlen(o->csr_pem));
	db_order_free(o);
	return res;
}

/* ---- GET /api/v1/orders/{id}/events ------------------------------------ */

/* GET /api/v1/orders/{id}/events: 200 {"items": [...]}, oldest first. */
enum MHD_Result
api_orders_events(struct api_request *req)
{
	struct db_event_list *l = NULL;
	json_t *items;
	int ret = db_event_list(req->srv->cfg.db, req->params[0], &l);

	if (ret == ERR_NOT_FOUND)
		return api_reply_order_not_found(req);
	if (ret < 0)
		return api_reply_internal(req, ret);
	items = json_array();
	for (size_t i = 0; items && i < l->count; i++) {
		const struct db_event *e = &l->items[i];
		json_array_append_new(
		    items,
		    json_pack("{s:I, s:o, s:o, s:s, s:o, s:o, s:o}", "id",
		              (json_int_t)e->id, "at", time_json(e->at),
		              "actor", str_or_null(e->actor), "type", e->type,
		              "from_state", str_or_null(e->from_state),
		              "to_state", str_or_null(e->to_state), "detail",
		              str_or_null(e->detail)));
	}
	db_event_list_free(l);
	return api_reply_json(req, MHD_HTTP_OK,
	                      json_pack("{s:o}", "items", items));
}
