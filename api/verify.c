/*
 * verify.c: chain building and the AMT checks as HTTP resources: verify an
 * order (stored report, state change), read its latest report, and
 * inspect any material without storing anything.
 */
#include "api/internal.h"
#include "api/jsontext.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
origin_name(enum pki_origin o)
{
	switch (o) {
	case PKI_ORIGIN_UPLOAD:
		return "delivery";
	case PKI_ORIGIN_POOL:
		return "ca-pool";
	case PKI_ORIGIN_BUILTIN:
		return "built-in"; /* data/bridges/ (core/verify.c) */
	default:
		return "system-store";
	}
}

static bool
parse_amt_version(struct api_request *req, json_t *v, const char *field,
                  unsigned *out, enum MHD_Result *res)
{
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 99) {
		*res =
		    api_reply_problem(req, MHD_HTTP_BAD_REQUEST, "invalid_type",
		                      "AMT versions are integers 1..99 "
		                      "(the AMT major version)",
		                      field, NULL);
		return false;
	}
	*out = (unsigned)json_integer_value(v);
	return true;
}

bool
api_verify_opts_read(struct api_request *req, json_t *obj, const char *at,
                     const char *suffix, struct pki_verify_opts *opts,
                     enum MHD_Result *res)
{
	memset(opts, 0, sizeof(*opts));
	opts->at = util_now();
	if (obj) {
		json_t *v = json_object_get(obj, "at");

		if (v && !json_is_null(v)) {
			if (!json_is_string(v)) {
				*res = api_reply_problem(
				    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
				    "at must be an RFC 3339 date-time "
				    "string",
				    "at", NULL);
				return false;
			}
			at = json_string_value(v);
		}
		v = json_object_get(obj, "dns_suffix");
		if (v && !json_is_null(v)) {
			if (!json_is_string(v)) {
				*res = api_reply_problem(
				    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
				    "dns_suffix must be a string", "dns_suffix",
				    NULL);
				return false;
			}
			suffix = json_string_value(v);
		}
		if (!parse_amt_version(req, json_object_get(obj, "amt_min"),
		                       "amt_min", &opts->amt_min, res) ||
		    !parse_amt_version(req, json_object_get(obj, "amt_max"),
		                       "amt_max", &opts->amt_max, res))
			return false;
		if (opts->amt_min && opts->amt_max &&
		    opts->amt_min > opts->amt_max) {
			*res = api_reply_problem(
			    req, MHD_HTTP_UNPROCESSABLE_CONTENT,
			    "validation_failed",
			    "amt_min is larger than amt_max", "amt_min", NULL);
			return false;
		}
	}
	if (at && util_time_parse(at, &opts->at) < 0) {
		*res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    "at is not an RFC 3339 date-time such as "
		    "2026-12-01T00:00:00Z",
		    "at", NULL);
		return false;
	}
	if (suffix && *suffix) {
		if (strlen(suffix) > 253 || !pki_name_is_fqdn(suffix, false)) {
			*res = api_reply_problem(
			    req, MHD_HTTP_UNPROCESSABLE_CONTENT,
			    "validation_failed",
			    "dns_suffix is not a DNS domain name", "dns_suffix",
			    NULL);
			return false;
		}
		opts->dns_suffix = suffix;
	}
	return true;
}

/* ,"key":"s", or ,"key":null for a NULL s, as json_pack's "s?" writes. */
static void
optional(struct jtext *t, const char *lit, size_t n, const char *s, bool *ok)
{
	if (s) {
		jtext_member_str(t, lit, n, s, ok);
		return;
	}
	jtext_raw(t, lit, n);
	JTEXT_LIT(t, "null");
}
#define OPTIONAL(t, lit, s, ok) \
	optional((t), "" lit, sizeof(lit) - 1, (s), (ok))

/*
 * An array element that may fail: a comma unless it is the first, then
 * write(); a failed element is dropped, as json_array_append_new drops
 * the NULL of a failed json_pack.
 */
static void
element_open(struct jtext *t, size_t *mark)
{
	*mark = t->len;
	if (t->len && t->p[t->len - 1] != '[')
		JTEXT_LIT(t, ",");
}

static void
element_close(struct jtext *t, size_t mark, bool ok)
{
	if (!ok)
		jtext_truncate(t, mark);
}

/* The best path's certificates with role and origin; false on ERR_NOMEM. */
static bool
chain_text(struct jtext *t, const struct core_evaluation *ev)
{
	const struct pki_path *p = &ev->paths[0];
	const struct pki_cert *certs[16], **context;
	enum pki_role roles[16];
	char *reasons[16];
	size_t n = p->len < 16 ? p->len : 16;

	context = calloc(ev->ncands + 1, sizeof(*context));
	for (size_t i = 0; i < n; i++)
		certs[i] = p->certs[i]->cert;
	for (size_t i = 0; context && i < ev->ncands; i++)
		context[i] = ev->cands[i].cert;
	if (!context || pki_classify_memo(certs, n, 0, context, ev->ncands,
	                                  ev->memo, roles, reasons) < 0) {
		free(context);
		return false;
	}
	free(context);
	JTEXT_LIT(t, "[");
	for (size_t i = 0; i < n; i++) {
		size_t mark;
		bool ok;

		element_open(t, &mark);
		ok = api_cert_text(t, certs[i]);
		if (ok) {
			JTEXT_MEMBER(t, ",\"role\":", pki_role_name(roles[i]),
			             &ok);
			JTEXT_MEMBER(t, ",\"origin\":",
			             origin_name(p->certs[i]->origin), &ok);
			JTEXT_LIT(t, "}");
		}
		element_close(t, mark, ok);
		free(reasons[i]);
	}
	JTEXT_LIT(t, "]");
	return !t->failed;
}

static void
alternative_text(struct jtext *t, const struct pki_path *p)
{
	const struct pki_cert *top = p->certs[p->len - 1]->cert;
	size_t mark;
	bool ok = true;

	element_open(t, &mark);
	JTEXT_LIT(t, "{\"chain\":[");
	for (size_t i = 0; i < p->len; i++) {
		size_t at;

		element_open(t, &at);
		element_close(t, at,
		              jtext_str_strict(t, p->certs[i]->cert->subject));
	}
	JTEXT_MEMBER(t, "],\"ends_at\":", top->subject, &ok);
	JTEXT_LIT(t, ",\"complete\":");
	jtext_bool(t, p->complete);
	JTEXT_LIT(t, ",\"amt_trusted\":");
	jtext_bool(t, p->amt_trusted);
	OPTIONAL(t, ",\"why_not_chosen\":", p->why_not_chosen, &ok);
	JTEXT_LIT(t, "}");
	element_close(t, mark, ok);
}

static void
notes_text(struct jtext *t, const struct core_evaluation *ev)
{
	const char *sep = "";

	JTEXT_LIT(t, "[");
	if (ev->used_system) {
		JTEXT_LIT(t,
		          "\"the chain was completed from the system trust "
		          "store (/etc/ssl/certs): upload the root or add it "
		          "to the CA pool to keep it with the order\"");
		sep = ",";
	}
	if (!ev->paths[0].complete) {
		jtext_raw(t, sep, strlen(sep));
		JTEXT_LIT(t, "\"no path reaches a self-signed root: an "
		             "intermediate or the root is missing\"");
	}
	JTEXT_LIT(t, "]");
}

static void
version_text(struct jtext *t, unsigned v)
{
	if (v)
		jtext_int(t, v);
	else
		JTEXT_LIT(t, "null");
}

/*
 * The report of an evaluation (chain, root, checks, alternatives, notes,
 * amt_versions) as JSON text appended to t, its closing brace left for
 * the caller's members. False (t as it was) where the report cannot be
 * written: out of memory, or a string json_pack would refuse.
 */
static bool
evaluation_text(struct jtext *t, const struct core_evaluation *ev)
{
	const struct pki_path *best = &ev->paths[0];
	const struct pki_cert *top = best->certs[best->len - 1]->cert;
	char at[32], now[32];
	size_t mark = t->len;
	bool ok = true;

	util_time_format(ev->opts.at, at, sizeof(at));
	util_time_format(util_now(), now, sizeof(now));
	JTEXT_MEMBER(t, "{\"evaluated_at\":", now, &ok);
	JTEXT_MEMBER(t, ",\"at\":", at, &ok);
	OPTIONAL(t, ",\"dns_suffix\":", ev->opts.dns_suffix, &ok);
	JTEXT_MEMBER(t, ",\"overall\":", pki_status_name(ev->overall), &ok);
	JTEXT_LIT(t, ",\"chain\":");
	ok = ok && chain_text(t, ev);
	JTEXT_MEMBER(t, ",\"root\":{\"subject\":", top->subject, &ok);
	JTEXT_MEMBER(t, ",\"sha256\":", top->sha256, &ok);
	JTEXT_LIT(t, ",\"amt_trusted\":");
	jtext_bool(t, best->amt_trusted);
	OPTIONAL(t, ",\"amt_entry\":",
	         best->amt_root ? best->amt_root->name : NULL, &ok);
	OPTIONAL(t, ",\"hash_algorithm\":", best->amt_hash_alg, &ok);
	JTEXT_LIT(t, "},\"checks\":[");
	for (size_t i = 0; ok && i < ev->report->count; i++) {
		const struct pki_check *c = &ev->report->checks[i];
		size_t at_mark;
		bool cok = true;

		element_open(t, &at_mark);
		JTEXT_MEMBER(t, "{\"id\":", c->id, &cok);
		JTEXT_MEMBER(t, ",\"status\":", pki_status_name(c->status),
		             &cok);
		JTEXT_MEMBER(t, ",\"message\":", c->message, &cok);
		OPTIONAL(t, ",\"fix\":", c->fix, &cok);
		JTEXT_LIT(t, "}");
		element_close(t, at_mark, cok);
	}
	JTEXT_LIT(t, "],\"alternatives\":[");
	for (size_t i = 1; i < ev->npaths; i++)
		alternative_text(t, &ev->paths[i]);
	JTEXT_LIT(t, "],\"notes\":");
	notes_text(t, ev);
	if (ev->opts.amt_min || ev->opts.amt_max) {
		JTEXT_LIT(t, ",\"amt_versions\":{\"min\":");
		version_text(t, ev->opts.amt_min);
		JTEXT_LIT(t, ",\"max\":");
		version_text(t, ev->opts.amt_max);
		JTEXT_LIT(t, "}");
	}
	if (ok && !t->failed)
		return true;
	jtext_truncate(t, mark);
	return false;
}

char *
api_report_render(const struct core_evaluation *ev, const char *order_id,
                  void *arg)
{
	struct jtext t = { 0 };
	bool ok = true;

	(void)arg;
	if (!evaluation_text(&t, ev))
		goto fail;
	JTEXT_MEMBER(&t, ",\"order_id\":", order_id, &ok);
	JTEXT_LIT(&t, "}");
	if (ok && !t.failed)
		return t.p;
fail:
	jtext_free(&t);
	return NULL;
}

/* ---- POST /api/v1/orders/{id}/verify ----------------------------------- */

/*
 * Verifies an order's chain as of `at` (default now) and stores the
 * report; no failed check moves issued -> ready, a failed one moves ready
 * back to issued. 200 report; 400; 401; 404; 409 no_leaf; 413; 415; 422.
 */
enum MHD_Result
api_orders_verify(struct api_request *req)
{
	static const char *const types[] = { "application/json", NULL };
	static const char *const keys[] = { "at", "dns_suffix", "amt_min",
		                            "amt_max", NULL };
	struct core_actor who = api_actor(req);
	struct core_verify_result vr = { 0 };
	struct core_problem pb;
	struct pki_verify_opts opts;
	enum MHD_Result res;
	json_t *body, *report = NULL;
	int ret;

	body = api_body_json(req, types, true, &res);
	if (!body)
		return res;
	if (!api_json_only_keys(req, body, keys, "", &res) ||
	    !api_verify_opts_read(req, body, NULL, NULL, &opts, &res))
		goto out;
	ret = core_order_verify(&req->srv->core, req->params[0], &opts, &who,
	                        &vr, &pb);
	if (ret < 0) {
		res = api_reply_refusal(req, ret, &pb);
		goto out;
	}
	report = json_loads(vr.report, 0, NULL);
	if (!report) {
		res = api_reply_internal(req, ERR_NOMEM);
		goto out;
	}
	json_object_set_new(report, "order_state",
	                    json_string(order_state_name(vr.state)));
	res = api_reply_json(req, MHD_HTTP_OK, report);
out:
	free(vr.report);
	json_decref(body);
	return res;
}

/*
 * GET /api/v1/orders/{id}/verification: the latest stored report.
 * 200; 401; 404 order_not_found, no_verification.
 */
enum MHD_Result
api_orders_verification(struct api_request *req)
{
	struct db_order *o = NULL;
	char *text = NULL;
	enum MHD_Result res;
	int ret = db_order_get(req->srv->cfg.db, req->params[0], &o);

	if (ret == ERR_NOT_FOUND)
		return api_reply_order_not_found(req);
	db_order_free(o);
	if (ret == 0)
		ret = db_verification_latest(req->srv->cfg.db, req->params[0],
		                             &text);
	if (ret == ERR_NOT_FOUND)
		return api_reply_problem(req, MHD_HTTP_NOT_FOUND,
		                         "no_verification",
		                         "the order was not verified yet: "
		                         "POST .../verify",
		                         NULL, NULL);
	if (ret < 0)
		return api_reply_internal(req, ret);
	res =
	    api_reply(req, MHD_HTTP_OK, "application/json", text, strlen(text));
	free(text);
	return res;
}

/* ---- POST /api/v1/inspect --------------------------------------------------
 */

static const char *
query(struct api_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	                                   name);
}

/*
 * The leaf of material nobody ordered: the certificate of the PKCS#12's
 * key, else the first end-entity certificate, else the CA certificate that
 * issues no other one given. -1 when there is none.
 */
static long
pick_leaf(const struct api_material *m, const char *key_spki)
{
	long ee = -1;

	for (size_t i = 0; i < m->ncerts; i++) {
		if (key_spki && strcmp(m->certs[i]->spki_sha256, key_spki) == 0)
			return (long)i;
		if (!m->certs[i]->is_ca && !m->certs[i]->self_signed) {
			if (ee < 0)
				ee = (long)i;
		}
	}
	if (ee >= 0)
		return ee;
	for (size_t i = 0; i < m->ncerts; i++) {
		bool issues = false;

		for (size_t k = 0; k < m->ncerts && !issues; k++)
			issues = k != i && pki_cert_is_signed_by(m->certs[k],
			                                         m->certs[i]);
		if (!issues)
			return (long)i;
	}
	return m->ncerts ? 0 : -1;
}

/*
 * Every certificate of loose material with its role, leaf given; memo:
 * the evaluation's, which verified the signatures between them already.
 */
static void
material_roles_text(struct jtext *t, const struct api_material *m, long leaf,
                    struct pki_sig_memo *memo)
{
	enum pki_role roles[64];
	char *reasons[64];
	size_t nc = m->ncerts < 64 ? m->ncerts : 64;

	JTEXT_LIT(t, "[");
	if (pki_classify_memo((const struct pki_cert *const *)m->certs, nc,
	                      leaf, NULL, 0, memo, roles, reasons) < 0)
		nc = 0;
	for (size_t i = 0; i < nc; i++) {
		size_t mark;
		bool ok;

		element_open(t, &mark);
		ok = api_cert_text(t, m->certs[i]);
		if (ok) {
			JTEXT_MEMBER(t, ",\"role\":", pki_role_name(roles[i]),
			             &ok);
			JTEXT_MEMBER(t, ",\"reason\":", reasons[i], &ok);
			JTEXT_LIT(t, "}");
		}
		element_close(t, mark, ok);
		free(reasons[i]);
	}
	JTEXT_LIT(t, "]");
}

/*
 * The report of loose material: every chain from leaf and every
 * certificate's role, nothing stored; written to t up to its closing
 * brace. 0, or a negative enum err.
 */
static int
inspect_report(struct api_request *req, const struct api_material *m, long leaf,
               const struct pki_verify_opts *opts, struct jtext *t)
{
	const struct pki_cert **others = calloc(m->ncerts + 1, sizeof(*others));
	enum pki_origin *origins = calloc(m->ncerts + 1, sizeof(*origins));
	struct core_evaluation ev = { 0 };
	size_t n = 0;
	int err = others && origins ? 0 : ERR_NOMEM;

	for (size_t i = 0; err == 0 && i < m->ncerts; i++) {
		if ((long)i == leaf)
			continue;
		others[n] = m->certs[i];
		origins[n++] = PKI_ORIGIN_UPLOAD;
	}
	if (err == 0)
		err = core_chain_evaluate(&req->srv->core, m->certs[leaf],
		                          PKI_ORIGIN_UPLOAD, others, origins, n,
		                          opts, &ev);
	if (err == 0)
		err = evaluation_text(t, &ev) ? 0 : ERR_NOMEM;
	if (err == 0) {
		JTEXT_LIT(t, ",\"certificates\":");
		material_roles_text(t, m, leaf, ev.memo);
	}
	core_evaluation_clear(&ev);
	free(others);
	free(origins);
	return err;
}

/*
 * POST /api/v1/inspect?at=&dns_suffix=: the same intake and report on any
 * material (a colleague's PFX, a CA's zip), nothing stored. at and
 * dns_suffix as query parameters or form fields.
 * 200 report; 400; 401; 413; 415; 422.
 */
enum MHD_Result
api_inspect(struct api_request *req)
{
	static const char *const allowed[] = { "at", "dns_suffix", NULL };
	struct api_material m;
	struct pki_verify_opts opts;
	char spki[PKI_SHA256_HEX_LEN + 1];
	bool has_key = false;
	enum MHD_Result res;
	struct jtext t = { 0 };
	long leaf;
	int err = 0;

	if (!api_query_only(req, allowed, &res))
		return res;
	if (!api_material_read(req, &m, true, &res))
		goto out;
	if (!api_verify_opts_read(
	        req, NULL, m.form_at ? m.form_at : query(req, "at"),
	        m.form_suffix ? m.form_suffix : query(req, "dns_suffix"), &opts,
	        &res))
		goto out;
	if (m.bundle.key && pki_key_spki_sha256(m.bundle.key, spki) == 0) {
		has_key = true;
		opts.expected_spki = spki;
	}
	leaf = pick_leaf(&m, has_key ? spki : NULL);
	err =
	    leaf >= 0 ? inspect_report(req, &m, leaf, &opts, &t) : ERR_INVALID;
	if (err == 0) {
		JTEXT_LIT(&t, ",\"intake_notes\":");
		if (!jtext_value(&t, m.notes))
			err = ERR_NOMEM;
	}
	if (err < 0) {
		res = api_reply_internal(req, err);
		goto out;
	}
	JTEXT_LIT(&t, ",\"private_key\":{\"present\":");
	jtext_bool(&t, has_key);
	JTEXT_LIT(&t, ",\"matches_leaf\":");
	jtext_bool(&t,
	           has_key && strcmp(m.certs[leaf]->spki_sha256, spki) == 0);
	JTEXT_LIT(&t, "}}");
	res = t.failed
	          ? api_reply_internal(req, ERR_NOMEM)
	          : api_reply(req, MHD_HTTP_OK, "application/json", t.p, t.len);
out:
	jtext_free(&t);
	api_material_clear(&m);
	return res;
}
