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

/*
 * Reads the hashes of a new entry into hash[] (lowercased copies; sha1,
 * sha256, sha384). false after a queued 400/422.
 */
static bool
read_hashes(struct api_request *req, json_t *body, char *hash[3],
            enum MHD_Result *res)
{
	static const struct {
		const char *key;
		size_t len;
	} algs[] = { { "sha1", 40 }, { "sha256", 64 }, { "sha384", 96 } };
	int nhash = 0;

	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(body, algs[i].key);
		char detail[96];

		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v)) {
			*res = api_reply_problem(
			    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
			    "hashes are hex strings", algs[i].key, NULL);
			return false;
		}
		if (!pki_hex_is(json_string_value(v), algs[i].len)) {
			snprintf(detail, sizeof(detail),
			         "%s must be %zu hex digits", algs[i].key,
			         algs[i].len);
			*res = api_reply_problem(
			    req, MHD_HTTP_UNPROCESSABLE_CONTENT,
			    "validation_failed", detail, algs[i].key, NULL);
			return false;
		}
		hash[i] = util_strdup(json_string_value(v));
		lower(hash[i]);
		nhash++;
	}
	if (nhash == 0) {
		*res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                         "validation_failed",
		                         "give the root's sha256, sha1 or "
		                         "sha384",
		                         "sha256", NULL);
		return false;
	}
	return true;
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
	struct core_actor who = api_actor(req);
	struct core_problem pb;
	struct db_amt_root *stored = NULL;
	char *hash[3] = { NULL, NULL, NULL };
	enum MHD_Result res;
	json_t *body, *name;
	int ret;

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
	if (!read_hashes(req, body, hash, &res))
		goto out;
	if (json_string_length(name) == 0 || json_string_length(name) > 200) {
		res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    "name must be 1..200 characters", "name", NULL);
		goto out;
	}
	ret = core_root_add(&req->srv->core, json_string_value(name), hash[0],
	                    hash[1], hash[2], &who, &stored, &pb);
	if (ret == ERR_CONFLICT)
		res = api_reply_problem(req, MHD_HTTP_CONFLICT, pb.code,
		                        pb.detail, NULL,
		                        json_pack("{s:s}", "id", pb.ref));
	else if (ret < 0)
		res = api_reply_refusal(req, ret, &pb);
	else
		res = api_reply_json(req, MHD_HTTP_CREATED, root_json(stored));
out:
	for (size_t i = 0; i < 3; i++)
		free(hash[i]);
	db_amt_root_free(stored);
	json_decref(body);
	return res;
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
	struct core_actor who = api_actor(req);
	struct core_problem pb;
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
	ret = core_root_set_enabled(&req->srv->core, req->params[0],
	                            json_is_true(en), &who, &r, &pb);
	res = ret < 0 ? api_reply_refusal(req, ret, &pb)
	              : api_reply_json(req, MHD_HTTP_OK, root_json(r));
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
	struct core_actor who = api_actor(req);
	struct core_problem pb;
	int ret = core_root_delete(&req->srv->core, req->params[0], &who, &pb);

	if (ret < 0)
		return api_reply_refusal(req, ret, &pb);
	return api_reply(req, MHD_HTTP_NO_CONTENT, NULL, "", 0);
}

/*
 * POST /api/v1/amt/trusted-roots/device-list: a device's own hash list in
 * one call, as {"device": "...", "text": "<rpc amtinfo -cert output>"}.
 * Hashes the list knows already are enabled when the device has them
 * active; the others are added as source "device", in one transaction.
 * 200 summary; 400; 401; 413; 415; 422.
 */
enum MHD_Result
api_roots_device(struct api_request *req)
{
	static const char *const types[] = { "application/json", NULL };
	static const char *const keys[] = { "device", "text", NULL };
	struct core_actor who = api_actor(req);
	struct core_device_result r = { 0 };
	struct pki_amt_hash_entry *e = NULL;
	const char *why = NULL;
	size_t n = 0;
	enum MHD_Result res;
	json_t *body, *text, *dev, *ids;
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
	ret = core_roots_from_device(&req->srv->core,
	                             dev ? json_string_value(dev) : NULL, e, n,
	                             &who, &r);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	ids = json_array();
	for (size_t i = 0; ids && i < r.nids; i++)
		json_array_append_new(ids, json_string(r.ids[i]));
	res = api_reply_json(req, MHD_HTTP_OK,
	                     json_pack("{s:i, s:i, s:i, s:i, s:o}", "hashes",
	                               (int)r.hashes, "added", (int)r.added,
	                               "known", (int)r.known, "enabled",
	                               (int)r.enabled, "ids", ids));
out:
	core_device_result_clear(&r);
	pki_amt_hash_entries_free(e, n);
	json_decref(body);
	return res;
}
