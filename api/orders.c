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

/* ---- the state machine (design.md section 3) -------------------------- */

#define STATE_MAX_NEXT 8

struct state_edges {
	const char *state;
	const char *next[STATE_MAX_NEXT]; /* NULL-terminated */
};

/*
 * Which state may follow which. Moves by explicit calls (submitted,
 * deployed, revoked, cancel) and by results (an upload's leaf: issued; a
 * verification: ready, or back to issued; the expiry sweep: renewal_due,
 * expired). deployed -> deployed records one more installation.
 */
static const struct state_edges state_table[] = {
	{ "draft", { "key_ready", "cancelled", NULL } },
	{ "key_ready", { "submitted", "issued", "cancelled", NULL } },
	{ "submitted", { "issued", "cancelled", NULL } },
	{ "issued", { "ready", "revoked", "cancelled", NULL } },
	{ "ready",
	  { "deployed", "renewal_due", "expired", "revoked", "issued",
	    "cancelled", NULL } },
	{ "deployed",
	  { "deployed", "renewal_due", "expired", "revoked", "cancelled",
	    NULL } },
	{ "renewal_due", { "expired", "revoked", "cancelled", NULL } },
	{ "expired", { NULL } },
	{ "revoked", { NULL } },
	{ "cancelled", { NULL } },
};

static const struct state_edges *
state_find(const char *state)
{
	for (size_t i = 0; i < sizeof(state_table) / sizeof(state_table[0]);
	     i++) {
		if (strcmp(state_table[i].state, state) == 0)
			return &state_table[i];
	}
	return NULL;
}

/* The states from which `to` may be reached, NULL-terminated. */
static size_t
states_leading_to(const char *to, const char **out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(state_table) / sizeof(state_table[0]);
	     i++) {
		for (size_t k = 0; k < STATE_MAX_NEXT && state_table[i].next[k];
		     k++) {
			if (strcmp(state_table[i].next[k], to) == 0 &&
			    n + 1 < cap)
				out[n++] = state_table[i].state;
		}
	}
	out[n] = NULL;
	return n;
}

static json_t *
allowed_transitions(const char *state)
{
	const struct state_edges *e = state_find(state);
	json_t *a = json_array();

	for (size_t k = 0; e && a && k < STATE_MAX_NEXT && e->next[k]; k++)
		json_array_append_new(a, json_string(e->next[k]));
	return a;
}

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

json_t *
api_order_json(const struct db_order *o)
{
	json_t *j, *san = json_array(), *vendor, *subject, *key, *links;
	char self[96];

	for (size_t i = 0; san && i < o->san_count; i++)
		json_array_append_new(san, json_string(o->san[i]));
	subject = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "common_name",
	                    str_or_null(o->common_name), "organization",
	                    str_or_null(o->organization), "organizational_unit",
	                    str_or_null(o->organizational_unit), "locality",
	                    str_or_null(o->locality), "state",
	                    str_or_null(o->state_province), "country",
	                    str_or_null(o->country));
	vendor = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
	                   str_or_null(o->vendor_name), "product",
	                   str_or_null(o->vendor_product), "order_id",
	                   str_or_null(o->vendor_order_id), "invoice",
	                   str_or_null(o->vendor_invoice), "approver",
	                   str_or_null(o->vendor_approver), "dcv_method",
	                   str_or_null(o->vendor_dcv_method), "price",
	                   str_or_null(o->vendor_price), "validity_days",
	                   o->vendor_validity_days
	                       ? json_integer(o->vendor_validity_days)
	                       : json_null());
	key = json_pack("{s:o, s:i, s:b, s:s}", "algorithm",
	                str_or_null(o->key_algorithm), "bits", (int)o->key_bits,
	                "stored", o->has_key, "source",
	                o->has_key ? "generated by amtcertd"
	                           : "none: the CSR was made elsewhere and its "
	                             "key stays there");
	snprintf(self, sizeof(self), "/api/v1/orders/%s", o->id);
	links = json_pack("{s:s, s:s+, s:s+}", "self", self, "csr", self,
	                  "/csr", "events", self, "/events");
	j = json_object();
	if (!j) {
		json_decref(subject);
		json_decref(san);
		json_decref(key);
		json_decref(vendor);
		json_decref(links);
		return NULL;
	}
	json_object_set_new(j, "id", json_string(o->id));
	json_object_set_new(j, "state", json_string(o->state));
	json_object_set_new(j, "profile",
	                    json_string(o->profile ? o->profile : "amt"));
	json_object_set_new(j, "subject", subject);
	json_object_set_new(j, "san", san);
	json_object_set_new(j, "key", key);
	json_object_set_new(j, "has_key", json_boolean(o->has_key));
	json_object_set_new(
	    j, "csr_source",
	    json_string(o->csr_source ? o->csr_source : "generated"));
	json_object_set_new(j, "dns_suffix", str_or_null(o->dns_suffix));
	json_object_set_new(j, "allow_suffix_mismatch",
	                    json_boolean(o->allow_suffix_mismatch));
	json_object_set_new(j, "external_ref", str_or_null(o->external_ref));
	json_object_set_new(j, "vendor", vendor);
	json_object_set_new(j, "notes", str_or_null(o->notes));
	json_object_set_new(j, "csr", str_or_null(o->csr_pem));
	json_object_set_new(j, "public_key_sha256",
	                    str_or_null(o->public_key_sha256));
	json_object_set_new(j, "renewal_of", str_or_null(o->renewal_of));
	json_object_set_new(j, "created_at", time_json(o->created_at));
	json_object_set_new(j, "updated_at", time_json(o->updated_at));
	json_object_set_new(j, "version", json_integer(o->version));
	json_object_set_new(j, "allowed_transitions",
	                    allowed_transitions(o->state));
	json_object_set_new(j, "leaf_sha256", str_or_null(o->leaf_sha256));
	json_object_set_new(j, "leaf_not_after", time_json(o->leaf_not_after));
	json_object_set_new(j, "chain_not_after",
	                    time_json(o->chain_not_after));
	json_object_set_new(j, "links", links);
	return j;
}

enum MHD_Result
api_reply_order(struct api_request *req, unsigned status,
                const struct db_order *o, json_t *warnings)
{
	char etag[32];
	json_t *j = api_order_json(o);

	etag_of(o, etag, sizeof(etag));
	api_add_header(req, "ETag", etag);
	if (j && warnings)
		json_object_set(j, "warnings", warnings);
	return api_reply_json(req, status, j);
}

static enum MHD_Result
reply_not_found(struct api_request *req)
{
	return api_reply_problem(req, MHD_HTTP_NOT_FOUND, "order_not_found",
	                         "there is no order with this id", "id", NULL);
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

struct keygen_job {
	unsigned bits;
	struct pki_secret *key;
	int ret;
};

static void
keygen_run(void *arg)
{
	struct keygen_job *job = arg;

	job->ret = pki_key_generate_rsa(job->bits, &job->key);
}

bool
api_key_generate(struct api_request *req, unsigned bits,
                 struct pki_secret **out, enum MHD_Result *res)
{
	struct keygen_job job = { .bits = bits };
	int ret = workq_run(req->srv->cfg.slow, keygen_run, &job);

	if (ret == ERR_BUSY) {
		api_add_header(req, "Retry-After", "5");
		*res =
		    api_reply_problem(req, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
		                      "too many keys are being generated; "
		                      "retry in a few seconds",
		                      NULL, NULL);
		return false;
	}
	if (ret == 0)
		ret = job.ret;
	if (ret < 0) {
		pki_secret_free(job.key);
		*res = api_reply_internal(req, ret);
		return false;
	}
	*out = job.key;
	return true;
}

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
enum MHD_Result
api_orders_create(struct api_request *req)
{
	struct check c = { .req = req };
	struct create_in in;
	struct db_order o, *stored = NULL;
	struct pki_csr_info *csr = NULL;
	struct pki_secret *key = NULL;
	const char *idem = api_header(req, "Idempotency-Key");
	const char *sans[MAX_SAN + 1];
	char hash[PKI_SHA256_HEX_LEN + 1], id[40], loc[96],
	    spki[PKI_SHA256_HEX_LEN + 1];
	char *csr_pem = NULL;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	json_t *body = NULL;
	enum MHD_Result res;
	int ret;

	memset(&in, 0, sizeof(in));
	memset(&o, 0, sizeof(o));
	c.errors = json_array();
	c.warnings = json_array();
	body = api_body_json(req, json_types, false, &res);
	if (!body)
		goto out;
	if (idem && !idem_key_ok(idem)) {
		res = api_reply_problem(req, MHD_HTTP_BAD_REQUEST,
		                        "invalid_header",
		                        "Idempotency-Key must be 1..255 "
		                        "visible ASCII characters",
		                        "Idempotency-Key", NULL);
		goto out;
	}
	if (idem) {
		ret = body_hash(body, hash);
		if (ret < 0) {
			res = api_reply_internal(req, ret);
			goto out;
		}
		if (idem_replay(req, idem, hash, &res))
			goto out;
	}
	read_create(&c, body, &in);
	if (c.replied) {
		res = c.res;
		goto out;
	}
	if (in.csr_pem && json_array_size(c.errors) == 0) {
		const char *why = NULL;

		ret = pki_csr_parse(in.csr_pem, strlen(in.csr_pem), &csr, &why);
		if (ret == ERR_INVALID || ret == ERR_TOO_LARGE) {
			res = api_reply_problem(
			    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_csr",
			    why ? why : "unreadable CSR", "csr", NULL);
			goto out;
		}
		if (ret < 0) {
			res = api_reply_internal(req, ret);
			goto out;
		}
		in.subject.subj = csr->subject;
		in.alg = csr->key_algorithm;
		in.bits = csr->key_bits;
		for (size_t i = 0; i < csr->san_count && i < MAX_SAN; i++)
			in.subject.san[in.subject.nsan++] = csr->san[i];
	}
	if (json_array_size(c.errors) == 0) {
		check_subject(&c, &in.subject.subj, csr != NULL);
		check_key(&c, in.alg, in.bits, csr != NULL);
		check_suffix(&c, in.subject.subj.common_name, in.dns_suffix,
		             in.allow_mismatch);
	}
	if (json_array_size(c.errors) > 0) {
		json_t *extra = json_pack("{s:O, s:O}", "errors", c.errors,
		                          "warnings", c.warnings);
		json_t *first = json_array_get(c.errors, 0);
		char detail[512];

		snprintf(detail, sizeof(detail), "%s: %s",
		         json_string_value(json_object_get(first, "field")),
		         json_string_value(json_object_get(first, "message")));
		res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    detail, json_string_value(json_object_get(first, "field")),
		    extra);
		goto out;
	}

	if (util_id_new("ord", id, sizeof(id)) < 0) {
		res = api_reply_internal(req, ERR_IO);
		goto out;
	}
	o.id = id;
	o.state = (char *)"key_ready";
	o.common_name = in.subject.subj.common_name;
	o.organization = in.subject.subj.organization;
	o.organizational_unit = in.subject.subj.organizational_unit;
	o.locality = in.subject.subj.locality;
	o.state_province = in.subject.subj.state;
	o.country = in.subject.subj.country;
	o.san_count =
	    merge_sans(o.common_name, in.subject.san, in.subject.nsan, sans);
	o.san = (char **)sans;
	o.key_algorithm = (char *)in.alg;
	o.key_bits = (unsigned)in.bits;
	order_fill_common(&o, &in);
	if (csr) {
		o.has_key = false;
		o.csr_source = (char *)"imported";
		o.csr_pem = csr->pem;
		o.public_key_sha256 = csr->spki_sha256;
	} else {
		if (!api_key_generate(req, (unsigned)in.bits, &key, &res))
			goto out;
		ret = pki_csr_create(key, &in.subject.subj, in.subject.san,
		                     in.subject.nsan, &csr_pem, spki);
		if (ret == 0)
			ret = pki_seal(req->srv->cfg.master_key, id, key->data,
			               key->len, &sealed, &sealed_len);
		if (ret < 0) {
			res = api_reply_internal(req, ret);
			goto out;
		}
		o.has_key = true;
		o.csr_source = (char *)"generated";
		o.csr_pem = csr_pem;
		o.public_key_sha256 = spki;
	}
	ret = db_order_insert(req->srv->cfg.db, &o, sealed, sealed_len,
	                      req->actor, idem, idem ? hash : NULL, util_now());
	if (ret == ERR_CONFLICT && idem && idem_replay(req, idem, hash, &res))
		goto out; /* a concurrent twin with the same key won */
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	ret = db_order_get(req->srv->cfg.db, id, &stored);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	log_info("orders: created %s (%s, %s %u)", id, o.csr_source,
	         o.key_algorithm, o.key_bits);
	snprintf(loc, sizeof(loc), "/api/v1/orders/%s", id);
	api_add_header(req, "Location", loc);
	res = api_reply_order(req, MHD_HTTP_CREATED, stored, c.warnings);
out:
	pki_secret_free(key);
	pki_csr_info_free(csr);
	db_order_free(stored);
	free(csr_pem);
	free(sealed);
	json_decref(c.errors);
	json_decref(c.warnings);
	json_decref(body);
	return res;
}

/* ---- GET /api/v1/orders -------------------------------------------------- */

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

/*
 * GET /api/v1/orders?state=&external_ref=&q=&limit=&cursor=: newest first.
 * 200 {"items": [...], "next_cursor": "..."|null}; 400 invalid_parameter,
 * unknown_parameter; 401.
 */
enum MHD_Result
api_orders_list(struct api_request *req)
{
	static const char *const allowed[] = { "state", "external_ref", "q",
		                               "limit", "cursor",       NULL };
	struct db_order_filter f = { 0 };
	struct db_order_list *l = NULL;
	const char *limit = query(req, "limit"), *cursor = query(req, "cursor");
	enum MHD_Result res;
	long long v;
	json_t *items, *j;
	char next[32];
	int ret;

	if (!api_query_only(req, allowed, &res))
		return res;
	f.state = query(req, "state");
	f.external_ref = query(req, "external_ref");
	f.q = query(req, "q");
	f.limit = LIST_DEFAULT;
	if (f.state && !state_find(f.state))
		return api_reply_problem(
		    req, MHD_HTTP_BAD_REQUEST, "invalid_parameter",
		    "state is not a known order state", "state", NULL);
	if ((f.q && strlen(f.q) > MAX_TEXT) ||
	    (f.external_ref && strlen(f.external_ref) > MAX_TEXT))
		return api_reply_problem(req, MHD_HTTP_BAD_REQUEST,
		                         "invalid_parameter",
		                         "filter values are at most 256 bytes",
		                         f.q ? "q" : "external_ref", NULL);
	if (limit) {
		if (!parse_int(limit, 1, LIST_MAX, &v))
			return api_reply_problem(
			    req, MHD_HTTP_BAD_REQUEST, "invalid_parameter",
			    "limit must be 1..200", "limit", NULL);
		f.limit = (unsigned)v;
	}
	if (cursor) {
		if (cursor[0] != 'c' ||
		    !parse_int(cursor + 1, 1, INT64_MAX, &v))
			return api_reply_problem(req, MHD_HTTP_BAD_REQUEST,
			                         "invalid_parameter",
			                         "cursor is not one this "
			                         "server gave out",
			                         "cursor", NULL);
		f.before_seq = v;
	}
	ret = db_order_list(req->srv->cfg.db, &f, &l);
	if (ret < 0)
		return api_reply_internal(req, ret);
	items = json_array();
	for (size_t i = 0; items && i < l->count; i++)
		json_array_append_new(items, api_order_json(l->items[i]));
	snprintf(next, sizeof(next), "c%lld", (long long)l->next_seq);
	j = json_pack("{s:o, s:o}", "items", items, "next_cursor",
	              l->next_seq ? json_string(next) : json_null());
	db_order_list_free(l);
	return api_reply_json(req, MHD_HTTP_OK, j);
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
		return reply_not_found(req);
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
 * PATCH /api/v1/orders/{id}: external_ref, notes and vendor fields, as a
 * JSON merge patch (null clears). If-Match with the ETag guards against
 * lost updates.
 * 200 order; 400 invalid_json, invalid_type, unknown_field; 401; 404;
 * 412 etag_mismatch; 413; 415; 422 validation_failed.
 */
enum MHD_Result
api_orders_patch(struct api_request *req)
{
	static const char *const keys[] = { "external_ref", "notes", "vendor",
		                            NULL };
	static const char *const vendor_keys[] = {
		"name",       "product", "order_id",      "invoice", "approver",
		"dcv_method", "price",   "validity_days", NULL
	};
	struct check c = { .req = req };
	struct db_order_patch p;
	struct db_order *o = NULL;
	struct vendor_in v;
	json_t *body, *vendor;
	const char *ext, *notes;
	enum MHD_Result res;
	int64_t want = if_match_version(req);
	int ret;

	memset(&p, 0, sizeof(p));
	c.errors = json_array();
	c.warnings = json_array();
	body = api_body_json(req, patch_types, false, &res);
	if (!body)
		goto out;
	if (!api_json_only_keys(req, body, keys, "", &res))
		goto out;
	vendor = opt_object(&c, body, "vendor", vendor_keys, "vendor.");
	ext = opt_string(&c, body, "external_ref", "external_ref", MAX_TEXT);
	notes = opt_string(&c, body, "notes", "notes", MAX_NOTES);
	read_vendor(&c, vendor, &v);
	if (c.replied) {
		res = c.res;
		goto out;
	}
	if (json_array_size(c.errors) > 0) {
		json_t *first = json_array_get(c.errors, 0);
		res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    json_string_value(json_object_get(first, "message")),
		    json_string_value(json_object_get(first, "field")),
		    json_pack("{s:O}", "errors", c.errors));
		goto out;
	}
	if (want < 0) {
		res = api_reply_problem(req, MHD_HTTP_PRECONDITION_FAILED,
		                        "etag_mismatch",
		                        "If-Match does not name the order's "
		                        "current ETag; GET it again",
		                        "If-Match", NULL);
		goto out;
	}
	p.external_ref =
	    patch_value(json_object_get(body, "external_ref"), ext);
	p.notes = patch_value(json_object_get(body, "notes"), notes);
	p.vendor_name = patch_value(v.present[0], v.name);
	p.vendor_product = patch_value(v.present[1], v.product);
	p.vendor_order_id = patch_value(v.present[2], v.order_id);
	p.vendor_invoice = patch_value(v.present[3], v.invoice);
	p.vendor_approver = patch_value(v.present[4], v.approver);
	p.vendor_dcv_method = patch_value(v.present[5], v.dcv_method);
	p.vendor_price = patch_value(v.present[6], v.price);
	p.set_validity = v.present[7];
	p.vendor_validity_days = v.validity_days;
	ret = db_order_update(req->srv->cfg.db, req->params[0], want, &p,
	                      req->actor, util_now(), &o);
	if (ret == ERR_NOT_FOUND)
		res = reply_not_found(req);
	else if (ret == ERR_PRECONDITION)
		res = api_reply_problem(req, MHD_HTTP_PRECONDITION_FAILED,
		                        "etag_mismatch",
		                        "the order changed since you read it; "
		                        "GET it again and retry",
		                        "If-Match", NULL);
	else if (ret < 0)
		res = api_reply_internal(req, ret);
	else
		res = api_reply_order(req, MHD_HTTP_OK, o, c.warnings);
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
api_order_transition(struct api_request *req, const char *to,
                     const char *reason, const struct db_order_patch *p)
{
	const char *from[16];
	struct db_order *o = NULL;
	char *cur = NULL, detail[160];
	enum MHD_Result res;
	int ret;

	states_leading_to(to, from, sizeof(from) / sizeof(from[0]));
	ret = db_order_transition_patch(req->srv->cfg.db, req->params[0], from,
	                                to, p, req->actor, reason, util_now(),
	                                &o, &cur);
	if (ret == ERR_NOT_FOUND)
		return reply_not_found(req);
	if (ret == ERR_CONFLICT) {
		snprintf(detail, sizeof(detail),
		         "the order is %s; it cannot move to %s",
		         cur ? cur : "?", to);
		res = api_reply_problem(
		    req, MHD_HTTP_CONFLICT, "invalid_transition", detail, NULL,
		    json_pack("{s:s?, s:s, s:o}", "state", cur, "requested", to,
		              "allowed_transitions",
		              allowed_transitions(cur ? cur : "")));
		free(cur);
		return res;
	}
	if (ret < 0)
		return api_reply_internal(req, ret);
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
	res = api_order_transition(req, "cancelled", reason, NULL);
out:
	json_decref(c.errors);
	json_decref(body);
	return res;
}

/* ---- GET /api/v1/orders/{id}/csr --------------------------------------- */

/* A download file name from the CN: "*." becomes "wildcard.". */
void
api_file_name(const char *cn, const char *ext, char *out, size_t n)
{
	size_t o = 0;

	if (cn && strncmp(cn, "*.", 2) == 0) {
		o = (size_t)snprintf(out, n, "wildcard");
		cn++;
	}
	for (; cn && *cn && o + 1 < n; cn++) {
		char ch = *cn;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-')
			out[o++] = ch;
		else
			out[o++] = '_';
	}
	if (o == 0)
		o = (size_t)snprintf(out, n, "request");
	snprintf(out + o, n - o, "%s", ext);
}

/* GET /api/v1/orders/{id}/csr: 200 application/pkcs10 PEM; 401; 404. */
enum MHD_Result
api_orders_csr(struct api_request *req)
{
	struct db_order *o = NULL;
	enum MHD_Result res;
	char name[96], disp[128];
	int ret = db_order_get(req->srv->cfg.db, req->params[0], &o);

	if (ret == ERR_NOT_FOUND)
		return reply_not_found(req);
	if (ret < 0)
		return api_reply_internal(req, ret);
	api_file_name(o->common_name, ".csr", name, sizeof(name));
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
		return reply_not_found(req);
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
