/*
 * lifecycle.c: an order after its CSR: submitted to the CA, exported for
 * the consoles, deployed, revoked, renewed; and the expiry sweep on
 * demand.
 */
#include "api/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"
#include "db/db.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const json_types[] = { "application/json", NULL };

static bool
in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; s && list[i]; i++) {
		if (strcmp(s, list[i]) == 0)
			return true;
	}
	return false;
}

/* A string member (NULL when absent/null); false after a queued 400/422. */
static bool
member_string(struct api_request *req, json_t *body, const char *key,
              size_t max, const char **out, enum MHD_Result *res)
{
	json_t *v = json_object_get(body, key);
	char detail[128];

	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		snprintf(detail, sizeof(detail), "%s must be a string", key);
		*res = api_reply_problem(req, MHD_HTTP_BAD_REQUEST,
		                         "invalid_type", detail, key, NULL);
		return false;
	}
	if (json_string_length(v) > max) {
		snprintf(detail, sizeof(detail), "%s is longer than %zu bytes",
		         key, max);
		*res =
		    api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                      "validation_failed", detail, key, NULL);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

/* Reads the JSON body (may be empty) and refuses keys outside keys. */
static json_t *
body_with(struct api_request *req, const char *const *keys,
          enum MHD_Result *res)
{
	json_t *body = api_body_json(req, json_types, true, res);

	if (body && !api_json_only_keys(req, body, keys, "", res)) {
		json_decref(body);
		return NULL;
	}
	return body;
}

/*
 * POST /api/v1/orders/{id}/submitted {vendor_order_id, approver,
 * dcv_method, submitted_at}: the CSR went to the CA (key_ready ->
 * submitted), with the vendor's fields in the same transaction.
 * 200; 400; 401; 404; 409 invalid_transition; 413; 415; 422.
 */
enum MHD_Result
api_orders_submitted(struct api_request *req)
{
	static const char *const keys[] = { "vendor_order_id", "approver",
		                            "dcv_method", "submitted_at",
		                            NULL };
	static const char *const dcv[] = { "email", "http", "https",
		                           "cname", "dns",  NULL };
	struct db_order_patch p;
	const char *vid, *approver, *method, *at;
	char reason[160];
	enum MHD_Result res;
	int64_t t = 0;
	json_t *body = body_with(req, keys, &res);

	if (!body)
		return res;
	memset(&p, 0, sizeof(p));
	if (!member_string(req, body, "vendor_order_id", 256, &vid, &res) ||
	    !member_string(req, body, "approver", 256, &approver, &res) ||
	    !member_string(req, body, "dcv_method", 16, &method, &res) ||
	    !member_string(req, body, "submitted_at", 64, &at, &res))
		goto out;
	if (method && !in_list(method, dcv)) {
		res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                        "validation_failed",
		                        "dcv_method is one of email, http, "
		                        "https, cname, dns",
		                        "dcv_method", NULL);
		goto out;
	}
	if (at && util_time_parse(at, &t) < 0) {
		res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                        "validation_failed",
		                        "submitted_at is not an RFC 3339 "
		                        "date-time",
		                        "submitted_at", NULL);
		goto out;
	}
	p.vendor_order_id = vid;
	p.vendor_approver = approver;
	p.vendor_dcv_method = method;
	if (at)
		snprintf(reason, sizeof(reason), "sent to the CA at %s", at);
	else
		snprintf(reason, sizeof(reason), "sent to the CA");
	res = api_order_transition(req, ORDER_T_SUBMIT, reason, &p);
out:
	json_decref(body);
	return res;
}

/*
 * POST /api/v1/orders/{id}/deployed {target, where, note}: installed at a
 * console (ready -> deployed; deployed again records one more).
 * 200; 400; 401; 404; 409; 413; 415; 422.
 */
enum MHD_Result
api_orders_deployed(struct api_request *req)
{
	static const char *const keys[] = { "target", "where", "note", NULL };
	static const char *const targets[] = { "ema",         "scs",   "rps",
		                               "meshcentral", "other", NULL };
	const char *target, *where, *note;
	char reason[1200];
	enum MHD_Result res;
	json_t *body = body_with(req, keys, &res);

	if (!body)
		return res;
	if (!member_string(req, body, "target", 16, &target, &res) ||
	    !member_string(req, body, "where", 256, &where, &res) ||
	    !member_string(req, body, "note", 512, &note, &res))
		goto out;
	if (!in_list(target, targets)) {
		res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                        "validation_failed",
		                        "target is one of ema, scs, rps, "
		                        "meshcentral, other",
		                        "target", NULL);
		goto out;
	}
	snprintf(reason, sizeof(reason), "target=%s%s%s%s%s", target,
	         where ? " where=" : "", where ? where : "",
	         note ? " note=" : "", note ? note : "");
	res = api_order_transition(req, ORDER_T_DEPLOY, reason, NULL);
out:
	json_decref(body);
	return res;
}

/*
 * POST /api/v1/orders/{id}/revoked {reason}: the CA revoked it.
 * 200; 400; 401; 404; 409; 413; 415; 422.
 */
enum MHD_Result
api_orders_revoked(struct api_request *req)
{
	static const char *const keys[] = { "reason", NULL };
	const char *reason;
	enum MHD_Result res;
	json_t *body = body_with(req, keys, &res);

	if (!body)
		return res;
	if (member_string(req, body, "reason", 1024, &reason, &res))
		res = api_order_transition(
		    req, ORDER_T_REVOKE, reason ? reason : "revoked at the CA",
		    NULL);
	json_decref(body);
	return res;
}

/* ---- POST /api/v1/orders/{id}/renew ---------------------------------- */

/*
 * POST /api/v1/orders/{id}/renew {"reuse_key": false}: a new linked order
 * with the same subject, SANs, suffix and vendor, and a new key (or,
 * asked explicitly, the old key; the event says so).
 * 201 new order + Location; 400; 401; 404; 409 invalid_state, no_key;
 * 413; 415; 503 busy.
 */
enum MHD_Result
api_orders_renew(struct api_request *req)
{
	static const char *const keys[] = { "reuse_key", NULL };
	struct core_actor who = api_actor(req);
	struct core_problem pb;
	struct db_order *n = NULL;
	char loc[96];
	enum MHD_Result res;
	json_t *body = body_with(req, keys, &res), *reuse;
	int ret;

	if (!body)
		return res;
	reuse = json_object_get(body, "reuse_key");
	if (reuse && !json_is_boolean(reuse)) {
		res = api_reply_problem(
		    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
		    "reuse_key must be true or false", "reuse_key", NULL);
		goto out;
	}
	ret = core_order_renew(&req->srv->core, req->params[0],
	                       json_is_true(reuse), &who, &n, &pb);
	if (ret < 0) {
		res = api_reply_refusal(req, ret, &pb);
		goto out;
	}
	snprintf(loc, sizeof(loc), "/api/v1/orders/%s", n->id);
	api_add_header(req, "Location", loc);
	res = api_reply_order(req, MHD_HTTP_CREATED, n, NULL);
out:
	db_order_free(n);
	json_decref(body);
	return res;
}

/* ---- POST /api/v1/orders/{id}/exports ---------------------------------- */

/*
 * iterations: absent or null leaves 0 (the default); an integer in
 * PKI_P12_ITER_MIN..PKI_P12_ITER_MAX. false after a queued 400/422.
 */
static bool
export_iterations_read(struct api_request *req, json_t *body, unsigned *out,
                       enum MHD_Result *res)
{
	json_t *v = json_object_get(body, "iterations");
	const char *problem;
	json_int_t n;

	*out = 0;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v)) {
		*res = api_reply_problem(
		    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
		    "iterations must be an integer", "iterations", NULL);
		return false;
	}
	n = json_integer_value(v);
	/* 0 (refused) stands for what does not fit an unsigned */
	*out = n < 0 || n > UINT_MAX ? 0 : (unsigned)n;
	problem = pki_p12_iterations_problem(*out);
	if (problem) {
		*res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                         "validation_failed", problem,
		                         "iterations", NULL);
		return false;
	}
	return true;
}

/*
 * Reads format, profile, password, friendly_name and iterations; false
 * after a 4xx.
 */
static bool
export_req_read(struct api_request *req, json_t *body,
                struct core_export_req *r, enum MHD_Result *res)
{
	const char *format, *profile, *problem;
	char detail[160];

	memset(r, 0, sizeof(*r));
	if (!member_string(req, body, "format", 32, &format, res) ||
	    !member_string(req, body, "profile", 16, &profile, res) ||
	    !member_string(req, body, "password", 256, &r->password, res) ||
	    !member_string(req, body, "friendly_name", 255, &r->friendly_name,
	                   res) ||
	    !export_iterations_read(req, body, &r->iterations, res))
		return false;
	r->format = core_export_format_find(format);
	if (!r->format) {
		snprintf(detail, sizeof(detail), "format is one of %s",
		         core_export_format_names());
		*res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                         "validation_failed", detail, "format",
		                         NULL);
		return false;
	}
	if (!r->format->key && (profile || r->password || r->iterations)) {
		*res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    "profile, password and iterations are for pkcs12 only",
		    profile       ? "profile"
		    : r->password ? "password"
		                  : "iterations",
		    NULL);
		return false;
	}
	if (profile && strcmp(profile, "compat") != 0 &&
	    strcmp(profile, "modern") != 0) {
		*res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    "profile is compat (3DES, every console) or modern "
		    "(AES-256)",
		    "profile", NULL);
		return false;
	}
	r->profile = profile && strcmp(profile, "modern") == 0 ? PKI_P12_MODERN
	                                                       : PKI_P12_COMPAT;
	problem = r->format->key ? pki_p12_password_problem(r->password) : NULL;
	if (problem) {
		*res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                         "validation_failed", problem,
		                         "password", NULL);
		return false;
	}
	return true;
}

/*
 * POST /api/v1/orders/{id}/exports {"format", "profile", "password",
 * "friendly_name", "iterations"}: the file itself. pkcs12 (the key, in a
 * password-protected PFX, iterations 1000..1000000, default 2048) only
 * for an order whose chain verified (ready or later) and that holds its
 * key; every key export is an event naming the token. pem-chain,
 * pem-leaf, pem-ca-bundle, pem-root, der-leaf carry certificates only.
 * 200 file; 400; 401; 404; 409 invalid_state, no_key, no_leaf,
 * no_verification, chain_changed; 413; 415; 422 validation_failed;
 * 503 busy.
 */
enum MHD_Result
api_orders_export(struct api_request *req)
{
	static const char *const keys[] = { "format",     "profile",
		                            "password",   "friendly_name",
		                            "iterations", NULL };
	struct core_actor who = api_actor(req);
	struct core_export_result out = { 0 };
	struct core_export_req r;
	struct core_problem pb;
	char disp[192];
	enum MHD_Result res;
	json_t *body = body_with(req, keys, &res);
	int ret;

	if (!body)
		return res;
	if (!export_req_read(req, body, &r, &res))
		goto out;
	ret = core_order_export(&req->srv->core, req->params[0], &r, &who, &out,
	                        &pb);
	if (ret < 0) {
		res = api_reply_refusal(req, ret, &pb);
		goto out;
	}
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"",
	         out.filename);
	api_add_header(req, "Content-Disposition", disp);
	res = api_reply(req, MHD_HTTP_OK, out.media_type, out.file->data,
	                out.file->len);
out:
	core_export_result_clear(&out);
	api_json_wipe_string(json_object_get(body, "password"));
	json_decref(body);
	return res;
}

/* ---- POST /api/v1/jobs/expiry-check ---------------------------------- */

static json_t *
ids_json(char **ids, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(ids[i]));
	return a;
}

/*
 * POST /api/v1/jobs/expiry-check {"at", "dry_run"}: runs the expiry sweep
 * now (the daemon also runs it at start and hourly), as of `at` when
 * given, e.g. to see what a date will bring with dry_run.
 * 200; 400; 401; 413; 415; 422.
 */
enum MHD_Result
api_jobs_expiry(struct api_request *req)
{
	static const char *const keys[] = { "at", "dry_run", NULL };
	struct core_actor who = api_actor(req);
	struct db_sweep s = { 0 };
	const char *at;
	char when[32];
	enum MHD_Result res;
	json_t *body = body_with(req, keys, &res), *dry;
	int64_t t = util_now();
	int ret;

	if (!body)
		return res;
	if (!member_string(req, body, "at", 64, &at, &res))
		goto out;
	dry = json_object_get(body, "dry_run");
	if (dry && !json_is_boolean(dry)) {
		res = api_reply_problem(
		    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
		    "dry_run must be true or false", "dry_run", NULL);
		goto out;
	}
	if (at && util_time_parse(at, &t) < 0) {
		res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    "at is not an RFC 3339 date-time", "at", NULL);
		goto out;
	}
	ret =
	    core_expiry_sweep(&req->srv->core, t, json_is_true(dry), &who, &s);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	util_time_format(t, when, sizeof(when));
	res = api_reply_json(
	    req, MHD_HTTP_OK,
	    json_pack("{s:s, s:i, s:b, s:o, s:o}", "at", when,
	              "renewal_window_days", (int)req->srv->cfg.renewal_days,
	              "dry_run", json_is_true(dry), "renewal_due",
	              ids_json(s.renewal_due, s.nrenewal_due), "expired",
	              ids_json(s.expired, s.nexpired)));
	db_sweep_clear(&s);
out:
	json_decref(body);
	return res;
}
