/*
 * verify.c: chain building and the AMT checks as HTTP resources: verify an
 * order (stored report, state change), read its latest report, and
 * inspect any material without storing anything.
 */
#include "api/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CANDIDATES 512

static const char *
origin_name(enum pki_origin o)
{
	switch (o) {
	case PKI_ORIGIN_UPLOAD:
		return "delivery";
	case PKI_ORIGIN_POOL:
		return "ca-pool";
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

/* Everything the chain builder needs, owned in one place. */
struct chain_ctx {
	struct pki_candidate cands[MAX_CANDIDATES];
	size_t ncands;
	struct pki_cert **owned; /* parsed pool certificates */
	size_t nowned;
	struct db_amt_root_list *db_roots;
	struct pki_amt_root *roots;
	size_t nroots;
};

static void
chain_ctx_clear(struct chain_ctx *x)
{
	for (size_t i = 0; i < x->nowned; i++)
		pki_cert_free(x->owned[i]);
	free(x->owned);
	db_amt_root_list_free(x->db_roots);
	free(x->roots);
}

static void
cand_add(struct chain_ctx *x, const struct pki_cert *c, enum pki_origin o)
{
	for (size_t i = 0; i < x->ncands; i++) {
		if (strcmp(x->cands[i].cert->sha256, c->sha256) == 0)
			return; /* the nearer origin wins */
	}
	if (x->ncands < MAX_CANDIDATES) {
		x->cands[x->ncands].cert = c;
		x->cands[x->ncands].origin = o;
		x->ncands++;
	}
}

static int
chain_ctx_fill(struct api_request *req, const struct api_verify_in *in,
               struct chain_ctx *x)
{
	struct db_cert_list *pool = NULL;
	int ret;

	for (size_t i = 0; i < in->ncerts; i++)
		cand_add(x, in->certs[i], in->origins[i]);
	ret = db_pool_list(req->srv->cfg.db, &pool);
	if (ret < 0)
		return ret;
	x->owned = calloc(pool->count ? pool->count : 1, sizeof(*x->owned));
	for (size_t i = 0; x->owned && i < pool->count; i++) {
		struct pki_cert *c = NULL;

		if (pki_cert_parse(pool->items[i].der, pool->items[i].der_len,
		                   &c, NULL) == 0) {
			x->owned[x->nowned++] = c;
			cand_add(x, c, PKI_ORIGIN_POOL);
		}
	}
	db_cert_list_free(pool);
	if (!x->owned)
		return ERR_NOMEM;
	ret = db_amt_root_list(req->srv->cfg.db, &x->db_roots);
	if (ret < 0)
		return ret;
	x->roots = calloc(x->db_roots->count ? x->db_roots->count : 1,
	                  sizeof(*x->roots));
	if (!x->roots)
		return ERR_NOMEM;
	for (size_t i = 0; i < x->db_roots->count; i++) {
		const struct db_amt_root *r = &x->db_roots->items[i];

		x->roots[i] =
		    (struct pki_amt_root){ r->name, r->sha1, r->sha256,
			                   r->sha384, r->enabled };
	}
	x->nroots = x->db_roots->count;
	return 0;
}

static json_t *
chain_json(const struct pki_path *p, const struct chain_ctx *x)
{
	const struct pki_cert *certs[16], *context[MAX_CANDIDATES];
	enum pki_role roles[16];
	char *reasons[16];
	json_t *a = json_array();
	size_t n = p->len < 16 ? p->len : 16;

	for (size_t i = 0; i < n; i++)
		certs[i] = p->certs[i]->cert;
	for (size_t i = 0; i < x->ncands; i++)
		context[i] = x->cands[i].cert;
	if (pki_classify(certs, n, 0, context, x->ncands, roles, reasons) < 0) {
		json_decref(a);
		return NULL;
	}
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

static bool
path_uses_system(const struct pki_path *p)
{
	for (size_t i = 0; i < p->len; i++) {
		if (p->certs[i]->origin == PKI_ORIGIN_SYSTEM)
			return true;
	}
	return false;
}

json_t *
api_verify_report(struct api_request *req, const struct api_verify_in *in,
                  struct api_verify_out *out, int *err)
{
	struct chain_ctx *x = calloc(1, sizeof(*x));
	struct pki_candidate leaf = { in->leaf, in->leaf_origin };
	struct pki_path *paths = NULL;
	struct pki_report *rep = NULL;
	size_t npaths = 0;
	bool prefer_sha2 = in->opts.amt_max >= 16 || in->opts.amt_min >= 16;
	json_t *j = NULL, *checks, *alts, *notes, *root;
	char at[32], now[32];
	int ret;

	if (!x) {
		*err = ERR_NOMEM;
		return NULL;
	}
	ret = chain_ctx_fill(req, in, x);
	if (ret == 0)
		ret = pki_chain_build(&leaf, x->cands, x->ncands, x->roots,
		                      x->nroots, prefer_sha2, &paths, &npaths);
	/* The system trust store only completes a chain that has no root. */
	if (ret == 0 && npaths > 0 && !paths[0].complete &&
	    req->srv->nsystem > 0) {
		pki_paths_free(paths, npaths);
		paths = NULL;
		for (size_t i = 0; i < req->srv->nsystem; i++)
			cand_add(x, req->srv->system_certs[i],
			         PKI_ORIGIN_SYSTEM);
		ret = pki_chain_build(&leaf, x->cands, x->ncands, x->roots,
		                      x->nroots, prefer_sha2, &paths, &npaths);
	}
	if (ret == 0 && npaths == 0)
		ret = ERR_INVALID;
	if (ret == 0)
		ret = pki_verify_path(&paths[0], &in->opts, &rep);
	if (ret < 0) {
		log_error("verify: chain or checks failed: %s", err_str(ret));
		*err = ret;
		goto cleanup;
	}
	checks = json_array();
	for (size_t i = 0; checks && i < rep->count; i++) {
		const struct pki_check *c = &rep->checks[i];

		json_array_append_new(
		    checks, json_pack("{s:s, s:s, s:s, s:s?}", "id", c->id,
		                      "status", pki_status_name(c->status),
		                      "message", c->message, "fix", c->fix));
	}
	alts = json_array();
	for (size_t i = 1; alts && i < npaths; i++)
		json_array_append_new(alts, alternative_json(&paths[i]));
	notes = json_array();
	if (path_uses_system(&paths[0]))
		json_array_append_new(
		    notes, json_string("the chain was completed from the "
		                       "system trust store (/etc/ssl/certs):"
		                       " upload the root or add it to the "
		                       "CA pool to keep it with the order"));
	if (!paths[0].complete)
		json_array_append_new(
		    notes, json_string("no path reaches a self-signed root: "
		                       "an intermediate or the root is "
		                       "missing"));
	root =
	    json_pack("{s:s, s:s, s:b, s:s?, s:s?}", "subject",
	              paths[0].certs[paths[0].len - 1]->cert->subject, "sha256",
	              paths[0].certs[paths[0].len - 1]->cert->sha256,
	              "amt_trusted", paths[0].amt_trusted, "amt_entry",
	              paths[0].amt_root ? paths[0].amt_root->name : NULL,
	              "hash_algorithm", paths[0].amt_hash_alg);
	util_time_format(in->opts.at, at, sizeof(at));
	util_time_format(util_now(), now, sizeof(now));
	j = json_pack("{s:s, s:s, s:s?, s:s, s:o, s:o, s:o, s:o, s:o}",
	              "evaluated_at", now, "at", at, "dns_suffix",
	              in->opts.dns_suffix, "overall",
	              pki_status_name(rep->overall), "chain",
	              chain_json(&paths[0], x), "root", root, "checks", checks,
	              "alternatives", alts, "notes", notes);
	if (j && (in->opts.amt_min || in->opts.amt_max))
		json_object_set_new(
		    j, "amt_versions",
		    json_pack("{s:o, s:o}", "min",
		              in->opts.amt_min ? json_integer(in->opts.amt_min)
		                               : json_null(),
		              "max",
		              in->opts.amt_max ? json_integer(in->opts.amt_max)
		                               : json_null()));
	out->overall = rep->overall;
	out->leaf_not_after = paths[0].certs[0]->cert->not_after;
	out->chain_not_after = 0;
	for (size_t i = 1; i < paths[0].len; i++) {
		int64_t na = paths[0].certs[i]->cert->not_after;

		if (out->chain_not_after == 0 || na < out->chain_not_after)
			out->chain_not_after = na;
	}
	if (!j)
		*err = ERR_NOMEM;
cleanup:
	pki_report_free(rep);
	pki_paths_free(paths, npaths);
	chain_ctx_clear(x);
	free(x);
	return j;
}

/* ---- POST /api/v1/orders/{id}/verify ----------------------------------- */

static enum MHD_Result
reply_not_found(struct api_request *req)
{
	return api_reply_problem(req, MHD_HTTP_NOT_FOUND, "order_not_found",
	                         "there is no order with this id", "id", NULL);
}

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
	static const char *const to_ready[] = { "issued", NULL };
	static const char *const to_issued[] = { "ready", NULL };
	struct db_order *o = NULL;
	struct db_cert_list *certs = NULL;
	struct pki_cert **parsed = NULL, *leaf = NULL;
	const struct pki_cert **others = NULL;
	enum pki_origin *origins = NULL;
	struct api_verify_in in;
	struct api_verify_out vo = { PKI_FAIL, 0, 0 };
	enum MHD_Result res;
	json_t *body, *report = NULL;
	char *text = NULL;
	size_t nothers = 0;
	int err = 0, ret;

	memset(&in, 0, sizeof(in));
	body = api_body_json(req, types, true, &res);
	if (!body)
		return res;
	if (!api_json_only_keys(req, body, keys, "", &res) ||
	    !api_verify_opts_read(req, body, NULL, NULL, &in.opts, &res))
		goto out;
	ret = db_order_get(req->srv->cfg.db, req->params[0], &o);
	if (ret == ERR_NOT_FOUND) {
		res = reply_not_found(req);
		goto out;
	}
	if (ret == 0)
		ret = db_order_certs(req->srv->cfg.db, o->id, &certs);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	if (!o->leaf_sha256) {
		res = api_reply_problem(
		    req, MHD_HTTP_CONFLICT, "no_leaf",
		    "the order has no certificate yet: upload the CA's "
		    "delivery first (POST .../uploads)",
		    NULL, json_pack("{s:s}", "state", o->state));
		goto out;
	}
	if (!in.opts.dns_suffix)
		in.opts.dns_suffix = o->dns_suffix;
	in.opts.expected_spki = o->public_key_sha256;
	parsed = calloc(certs->count + 1, sizeof(*parsed));
	others = calloc(certs->count + 1, sizeof(*others));
	origins = calloc(certs->count + 1, sizeof(*origins));
	if (!parsed || !others || !origins) {
		res = api_reply_internal(req, ERR_NOMEM);
		goto out;
	}
	for (size_t i = 0; i < certs->count; i++) {
		if (pki_cert_parse(certs->items[i].der, certs->items[i].der_len,
		                   &parsed[i], NULL) < 0)
			continue;
		if (strcmp(certs->items[i].sha256, o->leaf_sha256) == 0) {
			leaf = parsed[i];
		} else {
			others[nothers] = parsed[i];
			origins[nothers++] = PKI_ORIGIN_UPLOAD;
		}
	}
	if (!leaf) {
		res = api_reply_internal(req, ERR_DB);
		goto out;
	}
	in.leaf = leaf;
	in.leaf_origin = PKI_ORIGIN_UPLOAD;
	in.certs = others;
	in.origins = origins;
	in.ncerts = nothers;
	report = api_verify_report(req, &in, &vo, &err);
	if (!report) {
		res = api_reply_internal(req, err);
		goto out;
	}
	json_object_set_new(report, "order_id", json_string(o->id));
	text = json_dumps(report, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!text) {
		res = api_reply_internal(req, ERR_NOMEM);
		goto out;
	}
	ret = db_verification_insert(
	    req->srv->cfg.db, o->id, in.opts.at, pki_status_name(vo.overall),
	    text, vo.overall == PKI_FAIL ? to_issued : to_ready,
	    vo.overall == PKI_FAIL ? "issued" : "ready", vo.leaf_not_after,
	    vo.chain_not_after, req->actor, util_now(), NULL);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	db_order_free(o);
	o = NULL;
	if (db_order_get(req->srv->cfg.db, req->params[0], &o) == 0)
		json_object_set_new(report, "order_state",
		                    json_string(o->state));
	res = api_reply_json(req, MHD_HTTP_OK, report);
	report = NULL;
out:
	free(text);
	json_decref(report);
	for (size_t i = 0; parsed && certs && i < certs->count; i++)
		pki_cert_free(parsed[i]);
	free(parsed);
	free(others);
	free(origins);
	db_cert_list_free(certs);
	db_order_free(o);
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
		return reply_not_found(req);
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
 * POST /api/v1/inspect: the same intake and report on any material,
 * nothing stored. at and dns_suffix as query parameters or form fields.
 * 200; 400; 401; 413; 415; 422.
 */
enum MHD_Result
api_inspect(struct api_request *req)
{
	static const char *const allowed[] = { "at", "dns_suffix", NULL };
	struct api_material m;
	struct api_verify_in in;
	const struct pki_cert **others = NULL;
	enum pki_origin *origins = NULL;
	struct api_verify_out vo;
	char spki[PKI_SHA256_HEX_LEN + 1];
	bool has_key = false;
	enum MHD_Result res;
	json_t *report = NULL, *listed;
	size_t n = 0;
	long leaf;
	int err = 0;

	memset(&in, 0, sizeof(in));
	if (!api_query_only(req, allowed, &res))
		return res;
	if (!api_material_read(req, &m, true, &res))
		goto out;
	if (!api_verify_opts_read(
	        req, NULL, m.form_at ? m.form_at : query(req, "at"),
	        m.form_suffix ? m.form_suffix : query(req, "dns_suffix"),
	        &in.opts, &res))
		goto out;
	if (m.bundle.key && pki_key_spki_sha256(m.bundle.key, spki) == 0) {
		has_key = true;
		in.opts.expected_spki = spki;
	}
	leaf = pick_leaf(&m, has_key ? spki : NULL);
	others = calloc(m.ncerts + 1, sizeof(*others));
	origins = calloc(m.ncerts + 1, sizeof(*origins));
	if (!others || !origins || leaf < 0) {
		res = api_reply_internal(req, ERR_NOMEM);
		goto out;
	}
	for (size_t i = 0; i < m.ncerts; i++) {
		if ((long)i == leaf)
			continue;
		others[n] = m.certs[i];
		origins[n++] = PKI_ORIGIN_UPLOAD;
	}
	in.leaf = m.certs[leaf];
	in.leaf_origin = PKI_ORIGIN_UPLOAD;
	in.certs = others;
	in.origins = origins;
	in.ncerts = n;
	report = api_verify_report(req, &in, &vo, &err);
	if (!report) {
		res = api_reply_internal(req, err);
		goto out;
	}
	listed = json_array();
	{
		enum pki_role roles[64];
		char *reasons[64];
		size_t nc = m.ncerts < 64 ? m.ncerts : 64;

		if (pki_classify((const struct pki_cert *const *)m.certs, nc,
		                 leaf, NULL, 0, roles, reasons) == 0) {
			for (size_t i = 0; i < nc; i++) {
				json_t *c = api_cert_json(m.certs[i]);

				json_object_set_new(
				    c, "role",
				    json_string(pki_role_name(roles[i])));
				json_object_set_new(c, "reason",
				                    json_string(reasons[i]));
				json_array_append_new(listed, c);
				free(reasons[i]);
			}
		}
	}
	json_object_set_new(report, "certificates", listed);
	json_object_set(report, "intake_notes", m.notes);
	json_object_set_new(
	    report, "private_key",
	    json_pack("{s:b, s:b}", "present", has_key, "matches_leaf",
	              has_key &&
	                  strcmp(m.certs[leaf]->spki_sha256, spki) == 0));
	res = api_reply_json(req, MHD_HTTP_OK, report);
	report = NULL;
out:
	json_decref(report);
	free(others);
	free(origins);
	api_material_clear(&m);
	return res;
}
