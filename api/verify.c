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

static json_t *
chain_json(const struct core_evaluation *ev)
{
	const struct pki_path *p = &ev->paths[0];
	const struct pki_cert *certs[16], **context;
	enum pki_role roles[16];
	char *reasons[16];
	json_t *a = json_array();
	size_t n = p->len < 16 ? p->len : 16;

	context = calloc(ev->ncands + 1, sizeof(*context));
	for (size_t i = 0; i < n; i++)
		certs[i] = p->certs[i]->cert;
	for (size_t i = 0; context && i < ev->ncands; i++)
		context[i] = ev->cands[i].cert;
	if (!context || pki_classify_memo(certs, n, 0, context, ev->ncands,
	                                  ev->memo, roles, reasons) < 0) {
		free(context);
		json_decref(a);
		return NULL;
	}
	free(context);
	for (size_t i = 0; a && i < n; i++) {
		json_t *c = api_cert_json(certs[i]);

		if (c) {
			json_object_set_new(
			    c, "role", json_string(pki_role_name(roles[i])));
			json_object_set_new(
			    c, "origin",
			    json_string(origin_name(p->certs[i]->origin)));
			json_array_append_new(a, c);
		}
		free(reasons[i]);
	}
	return a;
}

static json_t *
alternative_json(const struct pki_path *p)
{
	json_t *subjects = json_array();
	const struct pki_cert *top = p->certs[p->len - 1]->cert;

	for (size_t i = 0; subjects && i < p->len; i++)
		json_array_append_new(subjects,
		                      json_string(p->certs[i]->cert->subject));
	return json_pack("{s:o, s:s, s:b, s:b, s:s?}", "chain", subjects,
	                 "ends_at", top->subject, "complete", p->complete,
	                 "amt_trusted", p->amt_trusted, "why_not_chosen",
	                 p->why_not_chosen);
}

static json_t *
notes_json(const struct core_evaluation *ev)
{
	json_t *notes = json_array();

	if (ev->used_system)
		json_array_append_new(
		    notes, json_string("the chain was completed from the "
		                       "system trust store (/etc/ssl/certs):"
		                       " upload the root or add it to the "
		                       "CA pool to keep it with the order"));
	if (!ev->paths[0].complete)
		json_array_append_new(
		    notes, json_string("no path reaches a self-signed root: "
		                       "an intermediate or the root is "
		                       "missing"));
	return notes;
}

json_t *
api_evaluation_json(const struct core_evaluation *ev)
{
	const struct pki_path *best = &ev->paths[0];
	const struct pki_cert *top = best->certs[best->len - 1]->cert;
	json_t *j, *checks = json_array(), *alts = json_array();
	char at[32], now[32];

	for (size_t i = 0; checks && i < ev->report->count; i++) {
		const struct pki_check *c = &ev->report->checks[i];

		json_array_append_new(
		    checks, json_pack("{s:s, s:s, s:s, s:s?}", "id", c->id,
		                      "status", pki_status_name(c->status),
		                      "message", c->message, "fix", c->fix));
	}
	for (size_t i = 1; alts && i < ev->npaths; i++)
		json_array_append_new(alts, alternative_json(&ev->paths[i]));
	util_time_format(ev->opts.at, at, sizeof(at));
	util_time_format(util_now(), now, sizeof(now));
	j = json_pack(
	    "{s:s, s:s, s:s?, s:s, s:o, s:{s:s, s:s, s:b, s:s?, s:s?}, s:o, "
	    "s:o, s:o}",
	    "evaluated_at", now, "at", at, "dns_suffix", ev->opts.dns_suffix,
	    "overall", pki_status_name(ev->overall), "chain", chain_json(ev),
	    "root", "subject", top->subject, "sha256", top->sha256,
	    "amt_trusted", best->amt_trusted, "amt_entry",
	    best->amt_root ? best->amt_root->name : NULL, "hash_algorithm",
	    best->amt_hash_alg, "checks", checks, "alternatives", alts, "notes",
	    notes_json(ev));
	if (j && (ev->opts.amt_min || ev->opts.amt_max))
		json_object_set_new(
		    j, "amt_versions",
		    json_pack("{s:o, s:o}", "min",
		              ev->opts.amt_min ? json_integer(ev->opts.amt_min)
		                               : json_null(),
		              "max",
		              ev->opts.amt_max ? json_integer(ev->opts.amt_max)
		                               : json_null()));
	return j;
}

char *
api_report_render(const struct core_evaluation *ev, const char *order_id,
                  void *arg)
{
	json_t *j = api_evaluation_json(ev);
	char *text = NULL;
	size_t len;

	(void)arg;
	if (j && json_object_set_new(j, "order_id", json_string(order_id)) == 0)
		text = jtext_dump(j, &len);
	json_decref(j);
	return text;
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
static json_t *
material_roles_json(const struct api_material *m, long leaf,
                    struct pki_sig_memo *memo)
{
	enum pki_role roles[64];
	char *reasons[64];
	size_t nc = m->ncerts < 64 ? m->ncerts : 64;
	json_t *listed = json_array();

	if (pki_classify_memo((const struct pki_cert *const *)m->certs, nc,
	                      leaf, NULL, 0, memo, roles, reasons) < 0)
		return listed;
	for (size_t i = 0; i < nc; i++) {
		json_t *c = api_cert_json(m->certs[i]);

		json_object_set_new(c, "role",
		                    json_string(pki_role_name(roles[i])));
		json_object_set_new(c, "reason", json_string(reasons[i]));
		json_array_append_new(listed, c);
		free(reasons[i]);
	}
	return listed;
}

/*
 * The report of loose material: every chain from leaf and every
 * certificate's role, nothing stored.
 */
static json_t *
inspect_report(struct api_request *req, const struct api_material *m, long leaf,
               const struct pki_verify_opts *opts, int *err)
{
	const struct pki_cert **others = calloc(m->ncerts + 1, sizeof(*others));
	enum pki_origin *origins = calloc(m->ncerts + 1, sizeof(*origins));
	struct core_evaluation ev = { 0 };
	json_t *report = NULL;
	size_t n = 0;

	*err = others && origins ? 0 : ERR_NOMEM;
	for (size_t i = 0; *err == 0 && i < m->ncerts; i++) {
		if ((long)i == leaf)
			continue;
		others[n] = m->certs[i];
		origins[n++] = PKI_ORIGIN_UPLOAD;
	}
	if (*err == 0)
		*err = core_chain_evaluate(&req->srv->core, m->certs[leaf],
		                           PKI_ORIGIN_UPLOAD, others, origins,
		                           n, opts, &ev);
	if (*err == 0) {
		report = api_evaluation_json(&ev);
		*err = report ? 0 : ERR_NOMEM;
	}
	if (*err == 0)
		json_object_set_new(report, "certificates",
		                    material_roles_json(m, leaf, ev.memo));
	core_evaluation_clear(&ev);
	free(others);
	free(origins);
	return report;
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
	json_t *report = NULL;
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
	report = leaf >= 0 ? inspect_report(req, &m, leaf, &opts, &err) : NULL;
	if (!report) {
		res = api_reply_internal(req, err < 0 ? err : ERR_INVALID);
		goto out;
	}
	json_object_set(report, "intake_notes", m.notes);
	json_object_set_new(
	    report, "private_key",
	    json_pack("{s:b, s:b}", "present", has_key, "matches_leaf",
	              has_key &&
	                  strcmp(m.certs[leaf]->spki_sha256, spki) == 0));
	res = api_reply_json(req, MHD_HTTP_OK, report);
	report = NULL; /* api_reply_json took it */
out:
	json_decref(report);
	api_material_clear(&m);
	return res;
}
