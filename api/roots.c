/*
 * roots.c: /api/v1/amt/trusted-roots: the root hashes AMT trusts. The seed
 * list is built in; users enable cited entries, add their own (custom MEBx
 * hashes) and load a device's reported list.
 */
#include "api/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEVICE_LIST (256u << 10)
#define MAX_DEVICE_HASH 64

static json_t *
root_json(const struct db_amt_root *r)
{
	char at[32];

	util_time_format(r->created_at, at, sizeof(at));
	return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:b, s:s, "
	                 "s:b}",
	                 "id", r->id, "name", r->name, "sha1", r->sha1,
	                 "sha256", r->sha256, "sha384", r->sha384, "evidence",
	                 r->evidence, "source", r->source, "enabled",
	                 r->enabled, "created_at", at, "trusted", r->enabled);
}

/* GET /api/v1/amt/trusted-roots: 200; 401. */
enum MHD_Result
api_roots_list(struct api_request *req)
{
	struct db_amt_root_list *l = NULL;
	json_t *items;
	int ret = db_amt_root_list(req->srv->cfg.db, &l);

	if (ret < 0)
		return api_reply_internal(req, ret);
	items = json_array();
	for (size_t i = 0; items && i < l->count; i++)
		json_array_append_new(items, root_json(&l->items[i]));
	db_amt_root_list_free(l);
	return api_reply_json(req, MHD_HTTP_OK,
	                      json_pack("{s:o}", "items", items));
}

/* Lowercases a hex string in place. */
static void
lower(char *s)
{
	for (; s && *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* The entry of the list that holds any of the hashes of e, or NULL. */
static const struct db_amt_root *
find_known(const struct db_amt_root_list *l, const char *sha1,
           const char *sha256, const char *sha384)
{
	for (size_t i = 0; i < l->count; i++) {
		const struct db_amt_root *r = &l->items[i];

		if ((sha1 && r->sha1 && strcmp(sha1, r->sha1) == 0) ||
		    (sha256 && r->sha256 && strcmp(sha256, r->sha256) == 0) ||
		    (sha384 && r->sha384 && strcmp(sha384, r->sha384) == 0))
			return r;
	}
	return NULL;
}

/*
 * POST /api/v1/amt/trusted-roots {"name", "sha256"|"sha1"|"sha384"}: a
 * user entry, enabled. 201; 400; 401; 409 already_listed; 413; 415; 422.
 */
enum MHD_Result
api_roots_add(struct api_request *req)
{
	static const char *const types[] = { "application/json", NULL };
	static const char *const keys[] = { "name", "sha1", "sha256", "sha384",
		                            NULL };
	static const struct {
		const char *key;
		size_t len;
	} algs[] = { { "sha1", 40 }, { "sha256", 64 }, { "sha384", 96 } };
	struct db_amt_root_list *l = NULL;
	struct db_amt_root r, *stored = NULL;
	char *hash[3] = { NULL, NULL, NULL }, id[40];
	const struct db_amt_root *dup;
	enum MHD_Result res;
	json_t *body, *name;
	int nhash = 0, ret;

	body = api_body_json(req, types, false, &res);
	if (!body)
		return res;
	if (!api_json_only_keys(req, body, keys, "", &res))
		goto out;
	name = json_object_get(body, "name");
	if (!json_is_string(name)) {
		res =
		    api_reply_problem(req, MHD_HTTP_BAD_REQUEST, "invalid_type",
		                      "name must be a string", "name", NULL);
		goto out;
	}
	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(body, algs[i].key);

		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v)) {
			res = api_reply_problem(
			    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
			    "hashes are hex strings", algs[i].key, NULL);
			goto out;
		}
		if (!pki_hex_is(json_string_value(v), algs[i].len)) {
			char detail[96];

			snprintf(detail, sizeof(detail),
			         "%s must be %zu hex digits", algs[i].key,
			         algs[i].len);
			res = api_reply_problem(
			    req, MHD_HTTP_UNPROCESSABLE_CONTENT,
			    "validation_failed", detail, algs[i].key, NULL);
			goto out;
		}
		hash[i] = strdup(json_string_value(v));
		lower(hash[i]);
		nhash++;
	}
	if (json_string_length(name) == 0 || json_string_length(name) > 200 ||
	    nhash == 0) {
		res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    nhash == 0 ? "give the root's sha256, sha1 or sha384"
		               : "name must be 1..200 characters",
		    nhash == 0 ? "sha256" : "name", NULL);
		goto out;
	}
	ret = db_amt_root_list(req->srv->cfg.db, &l);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	dup = find_known(l, hash[0], hash[1], hash[2]);
	if (dup) {
		res =
		    api_reply_problem(req, MHD_HTTP_CONFLICT, "already_listed",
		                      "this hash is listed already", NULL,
		                      json_pack("{s:s}", "id", dup->id));
		goto out;
	}
	if (util_id_new("usr", id, sizeof(id)) < 0) {
		res = api_reply_internal(req, ERR_IO);
		goto out;
	}
	memset(&r, 0, sizeof(r));
	r.id = id;
	r.name = (char *)json_string_value(name);
	r.sha1 = hash[0];
	r.sha256 = hash[1];
	r.sha384 = hash[2];
	r.evidence = (char *)"user";
	r.source = (char *)"user";
	r.enabled = true;
	ret = db_amt_root_insert(req->srv->cfg.db, &r, 1, util_now(), NULL);
	if (ret == 0)
		ret = db_amt_root_get(req->srv->cfg.db, id, &stored);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	res = api_reply_json(req, MHD_HTTP_CREATED, root_json(stored));
out:
	for (size_t i = 0; i < 3; i++)
		free(hash[i]);
	db_amt_root_free(stored);
	db_amt_root_list_free(l);
	json_decref(body);
	return res;
}

static enum MHD_Result
reply_root_not_found(struct api_request *req)
{
	return api_reply_problem(req, MHD_HTTP_NOT_FOUND, "root_not_found",
	                         "no trusted-root entry with this id", "id",
	                         NULL);
}

/*
 * PATCH /api/v1/amt/trusted-roots/{id} {"enabled": bool}: trust or stop
 * trusting an entry (e.g. a cited one). 200; 400; 401; 404; 413; 415.
 */
enum MHD_Result
api_roots_patch(struct api_request *req)
{
	static const char *const types[] = { "application/json",
		                             "application/merge-patch+json",
		                             NULL };
	static const char *const keys[] = { "enabled", NULL };
	struct db_amt_root *r = NULL;
	enum MHD_Result res;
	json_t *body, *en;
	int ret;

	body = api_body_json(req, types, false, &res);
	if (!body)
		return res;
	if (!api_json_only_keys(req, body, keys, "", &res))
		goto out;
	en = json_object_get(body, "enabled");
	if (!json_is_boolean(en)) {
		res = api_reply_problem(
		    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
		    "enabled must be true or false", "enabled", NULL);
		goto out;
	}
	ret = db_amt_root_set_enabled(req->srv->cfg.db, req->params[0],
	                              json_is_true(en));
	if (ret == 0)
		ret = db_amt_root_get(req->srv->cfg.db, req->params[0], &r);
	if (ret == ERR_NOT_FOUND)
		res = reply_root_not_found(req);
	else if (ret < 0)
		res = api_reply_internal(req, ret);
	else
		res = api_reply_json(req, MHD_HTTP_OK, root_json(r));
out:
	db_amt_root_free(r);
	json_decref(body);
	return res;
}

/*
 * DELETE /api/v1/amt/trusted-roots/{id}: a user or device entry.
 * 204; 401; 404; 409 seed_entry (disable it instead).
 */
enum MHD_Result
api_roots_delete(struct api_request *req)
{
	int ret = db_amt_root_delete(req->srv->cfg.db, req->params[0]);

	if (ret == ERR_NOT_FOUND)
		return reply_root_not_found(req);
	if (ret == ERR_CONFLICT)
		return api_reply_problem(req, MHD_HTTP_CONFLICT, "seed_entry",
		                         "built-in entries cannot be removed; "
		                         "PATCH {\"enabled\": false} instead",
		                         NULL, NULL);
	if (ret < 0)
		return api_reply_internal(req, ret);
	return api_reply(req, MHD_HTTP_NO_CONTENT, NULL, "", 0);
}

/*
 * POST /api/v1/amt/trusted-roots/device-list: a device's own hash list in
 * one call, as {"device": "...", "text": "<rpc amtinfo -cert output>"}.
 * Hashes the list knows already are enabled when the device has them
 * active; the others are added as source "device".
 * 200 summary; 400; 401; 413; 415; 422.
 */
enum MHD_Result
api_roots_device(struct api_request *req)
{
	static const char *const types[] = { "application/json", NULL };
	static const char *const keys[] = { "device", "text", NULL };
	struct pki_amt_hash_entry *e = NULL;
	struct db_amt_root_list *l = NULL;
	struct db_amt_root *add = NULL;
	size_t n = 0, nadd = 0, enabled = 0, known = 0;
	const char *why = NULL, *device = NULL;
	enum MHD_Result res;
	json_t *body, *text, *dev, *ids = NULL;
	char(*idbuf)[40] = NULL, name[300];
	int ret;

	body = api_body_json(req, types, false, &res);
	if (!body)
		return res;
	if (!api_json_only_keys(req, body, keys, "", &res))
		goto out;
	text = json_object_get(body, "text");
	dev = json_object_get(body, "device");
	if (!json_is_string(text) || (dev && !json_is_string(dev))) {
		res = api_reply_problem(
		    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
		    "text (and device) must be strings", "text", NULL);
		goto out;
	}
	device = dev ? json_string_value(dev) : NULL;
	ret = json_string_length(text) > MAX_DEVICE_LIST
	          ? ERR_TOO_LARGE
	          : pki_amt_list_parse_device(json_string_value(text),
	                                      json_string_length(text),
	                                      MAX_DEVICE_HASH, &e, &n, &why);
	if (ret < 0) {
		res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    why ? why : "the list is too long", "text", NULL);
		goto out;
	}
	ret = db_amt_root_list(req->srv->cfg.db, &l);
	add = calloc(n, sizeof(*add));
	idbuf = calloc(n, sizeof(*idbuf));
	ids = json_array();
	if (ret < 0 || !add || !idbuf || !ids) {
		res = api_reply_internal(req, ret < 0 ? ret : ERR_NOMEM);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct db_amt_root *k =
		    find_known(l, e[i].sha1, e[i].sha256, e[i].sha384);

		if (k) {
			known++;
			if (e[i].active && !k->enabled &&
			    db_amt_root_set_enabled(req->srv->cfg.db, k->id,
			                            true) == 0)
				enabled++;
			json_array_append_new(ids, json_string(k->id));
			continue;
		}
		if (util_id_new("dev", idbuf[nadd], sizeof(idbuf[0])) < 0)
			continue;
		snprintf(name, sizeof(name), "%s%s%.64s%s", e[i].name,
		         device ? " (reported by " : "", device ? device : "",
		         device ? ")" : "");
		add[nadd] = (struct db_amt_root){
			.id = idbuf[nadd],
			.name = strdup(name),
			.sha1 = e[i].sha1,
			.sha256 = e[i].sha256,
			.sha384 = e[i].sha384,
			.evidence = (char *)"device-reported",
			.source = (char *)"device",
			.enabled = e[i].active,
		};
		json_array_append_new(ids, json_string(idbuf[nadd]));
		nadd++;
	}
	ret = db_amt_root_insert(req->srv->cfg.db, add, nadd, util_now(), NULL);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	res = api_reply_json(req, MHD_HTTP_OK,
	                     json_pack("{s:i, s:i, s:i, s:i, s:O}", "hashes",
	                               (int)n, "added", (int)nadd, "known",
	                               (int)known, "enabled", (int)enabled,
	                               "ids", ids));
out:
	for (size_t i = 0; add && i < nadd; i++)
		free(add[i].name);
	free(add);
	free(idbuf);
	json_decref(ids);
	pki_amt_hash_entries_free(e, n);
	db_amt_root_list_free(l);
	json_decref(body);
	return res;
}
