/*
 * roots.c: the list of root hashes AMT trusts (built-in, the admin's, a
 * device's own), and the API tokens. Changes to both go through here, so
 * api/ writes nothing behind core/ (and every change to the root list
 * invalidates the evaluations' cache of it).
 */
#include "core/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The entry that lists any of the three hashes, or NULL. */
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

static int
root_not_found(struct core_problem *pb)
{
	return core_refuse(pb, ERR_NOT_FOUND, "root_not_found", "id",
	                   "no trusted-root entry with this id");
}

int
core_root_add(struct core *c, const char *name, const char *sha1,
              const char *sha256, const char *sha384,
              const struct core_actor *who, struct db_amt_root **out,
              struct core_problem *pb)
{
	struct db_amt_root_list *l = NULL;
	const struct db_amt_root *dup;
	struct db_amt_root r;
	char id[40];
	int ret = db_amt_root_list(c->db, &l);

	(void)who;
	if (ret < 0)
		return ret;
	dup = find_known(l, sha1, sha256, sha384);
	if (dup) {
		ret = core_refuse(pb, ERR_CONFLICT, "already_listed", NULL,
		                  "this hash is listed already");
		if (pb)
			snprintf(pb->ref, sizeof(pb->ref), "%s", dup->id);
		goto out;
	}
	ret = util_id_new("usr", id, sizeof(id));
	memset(&r, 0, sizeof(r));
	r = (struct db_amt_root){ .id = id,
		                  .name = (char *)name,
		                  .sha1 = (char *)sha1,
		                  .sha256 = (char *)sha256,
		                  .sha384 = (char *)sha384,
		                  .evidence = (char *)"user",
		                  .source = (char *)"user",
		                  .enabled = true };
	if (ret == 0) {
		ret = db_amt_root_insert(c->db, &r, 1, util_now(), NULL);
		core_cache_invalidate(c);
	}
	if (ret == 0)
		ret = db_amt_root_get(c->db, id, out);
out:
	db_amt_root_list_free(l);
	return ret;
}

int
core_root_set_enabled(struct core *c, const char *id, bool enabled,
                      const struct core_actor *who, struct db_amt_root **out,
                      struct core_problem *pb)
{
	int ret = db_amt_root_set_enabled(c->db, id, enabled);

	(void)who;
	core_cache_invalidate(c);
	if (ret == 0)
		ret = db_amt_root_get(c->db, id, out);
	return ret == ERR_NOT_FOUND ? root_not_found(pb) : ret;
}

int
core_root_delete(struct core *c, const char *id, const struct core_actor *who,
                 struct core_problem *pb)
{
	int ret = db_amt_root_delete(c->db, id);

	(void)who;
	core_cache_invalidate(c);
	if (ret == ERR_NOT_FOUND)
		return root_not_found(pb);
	if (ret == ERR_CONFLICT)
		return core_refuse(pb, ret, "seed_entry", NULL,
		                   "built-in entries cannot be removed; PATCH "
		                   "{\"enabled\": false} instead");
	return ret;
}

void
core_device_result_clear(struct core_device_result *r)
{
	for (size_t i = 0; r->ids && i < r->nids; i++)
		free(r->ids[i]);
	free(r->ids);
	memset(r, 0, sizeof(*r));
}

/* Appends a copy of id to r->ids. */
static int
result_id(struct core_device_result *r, const char *id)
{
	char *copy = util_strdup(id);

	if (!copy)
		return ERR_NOMEM;
	r->ids[r->nids++] = copy;
	return 0;
}

int
core_roots_from_device(struct core *c, const char *device,
                       const struct pki_amt_hash_entry *e, size_t n,
                       const struct core_actor *who,
                       struct core_device_result *out)
{
	struct db_amt_root_list *l = NULL;
	struct db_amt_root *add = calloc(n + 1, sizeof(*add));
	const char **enable = calloc(n + 1, sizeof(*enable));
	char(*idbuf)[40] = calloc(n + 1, sizeof(*idbuf));
	size_t nadd = 0, nenable = 0;
	int ret =
	    add && enable && idbuf ? db_amt_root_list(c->db, &l) : ERR_NOMEM;

	(void)who;
	memset(out, 0, sizeof(*out));
	out->ids = calloc(n + 1, sizeof(*out->ids));
	if (ret == 0 && !out->ids)
		ret = ERR_NOMEM;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		const struct db_amt_root *k =
		    find_known(l, e[i].sha1, e[i].sha256, e[i].sha384);

		if (k) {
			out->known++;
			if (e[i].active && !k->enabled)
				enable[nenable++] = k->id;
			ret = result_id(out, k->id);
			continue;
		}
		ret = util_id_new("dev", idbuf[nadd], sizeof(idbuf[0]));
		if (ret == 0)
			add[nadd] = (struct db_amt_root){
				.id = idbuf[nadd],
				.name = util_aprintf(
				    "%s%s%.64s%s", e[i].name,
				    device ? " (reported by " : "",
				    device ? device : "", device ? ")" : ""),
				.sha1 = e[i].sha1,
				.sha256 = e[i].sha256,
				.sha384 = e[i].sha384,
				.evidence = (char *)"device-reported",
				.source = (char *)"device",
				.enabled = e[i].active,
			};
		if (ret == 0 && !add[nadd].name)
			ret = ERR_NOMEM;
		if (ret == 0)
			ret = result_id(out, idbuf[nadd++]);
	}
	if (ret == 0) {
		ret = db_amt_root_apply(c->db, enable, nenable, add, nadd,
		                        util_now(), NULL);
		core_cache_invalidate(c);
	}
	out->hashes = n;
	out->added = nadd;
	out->enabled = nenable;
	for (size_t i = 0; i < nadd; i++)
		free(add[i].name);
	free(add);
	free(enable);
	free(idbuf);
	db_amt_root_list_free(l);
	if (ret < 0)
		core_device_result_clear(out);
	return ret;
}

void
core_token_wipe(struct core_token *t)
{
	util_wipe(t, sizeof(*t));
}

int
core_token_mint(struct core_token *t)
{
	memset(t, 0, sizeof(*t));
	if (util_token_new(t->token, sizeof(t->token)) < 0 ||
	    util_id_new("tok", t->id, sizeof(t->id)) < 0)
		return ERR_IO;
	return pki_sha256_hex(t->token, strlen(t->token), t->sha256);
}

int
core_token_issue(struct core *c, const char *name, bool is_admin,
                 struct core_token *t)
{
	int ret = core_token_mint(t);

	if (ret == 0 && !name)
		snprintf(t->name, sizeof(t->name), "dashboard-%s", t->id + 4);
	else if (ret == 0)
		snprintf(t->name, sizeof(t->name), "%s", name);
	if (ret == 0)
		ret = db_token_insert(c->db, t->id, t->name, t->sha256,
		                      is_admin, util_now());
	if (ret < 0)
		core_token_wipe(t);
	return ret;
}
