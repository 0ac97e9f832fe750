/*
 * uploads.c: what the CA delivered, for an order or for the global CA pool.
 */
#include "core/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 16

/* Raw uploads are sealed under their own associated data, never a key's. */
static int
upload_aad(const char *order_id, char *out, size_t n)
{
	int w = snprintf(out, n, "upload:%s", order_id);

	return w < 0 || (size_t)w >= n ? ERR_INVALID : 0;
}

void
core_upload_result_clear(struct core_upload_result *r)
{
	for (size_t i = 0; i < CORE_MAX_UPLOAD_CERTS; i++)
		free(r->reasons[i]);
	memset(r, 0, sizeof(*r));
}

/* The leaf for the order's key among the delivery, or -1. */
static long
find_leaf(const struct db_order *o, const struct core_delivery *d)
{
	for (size_t i = 0; o->public_key_sha256 && i < d->ncerts; i++) {
		if (!d->certs[i]->is_ca &&
		    strcmp(d->certs[i]->spki_sha256, o->public_key_sha256) == 0)
			return (long)i;
	}
	return -1;
}

/* Refuses end-entity certificates for another key, and a foreign key. */
static int
check_keys(const struct db_order *o, const struct core_delivery *d, long leaf,
           struct core_problem *pb)
{
	char spki[PKI_SHA256_HEX_LEN + 1];

	for (size_t i = 0; leaf < 0 && i < d->ncerts; i++) {
		const struct pki_cert *c = d->certs[i];

		if (c->is_ca || c->self_signed)
			continue;
		core_refuse(
		    pb, ERR_INVALID, "leaf_key_mismatch", NULL,
		    "the certificate %.120s is for another key (public "
		    "key SHA-256 %s) than this order's (%s): it belongs "
		    "to another CSR",
		    c->subject, c->spki_sha256,
		    o->public_key_sha256 ? o->public_key_sha256 : "none");
		if (pb && o->public_key_sha256)
			snprintf(pb->order_key, sizeof(pb->order_key), "%s",
			         o->public_key_sha256);
		return ERR_INVALID;
	}
	/* A key sent along is taken (or matched) or the upload refused:
	 * never dropped. */
	if (d->key && pki_key_spki_sha256(d->key, spki) == 0 &&
	    (!o->public_key_sha256 || strcmp(spki, o->public_key_sha256) != 0))
		return core_refuse(
		    pb, ERR_INVALID, "leaf_key_mismatch", "password",
		    "the private key in the %s (public key "
		    "SHA-256 %s) is not the key of this order; "
		    "nothing was stored",
		    d->key_format && strcmp(d->key_format, "pem") == 0
		        ? "PEM"
		        : "PKCS#12",
		    spki);
	return 0;
}

/* The raw files, sealed: a delivery may hold a private key. */
static int
seal_files(struct core *c, const char *order_id, const struct core_delivery *d,
           struct db_upload *ups, char (*ids)[40],
           char (*hashes)[PKI_SHA256_HEX_LEN + 1], unsigned char **sealed)
{
	char aad[80];
	int ret = upload_aad(order_id, aad, sizeof(aad));

	for (size_t i = 0; ret == 0 && i < d->nfiles; i++) {
		const struct core_file *f = &d->files[i];
		size_t len = 0;

		ret = util_id_new("upl", ids[i], sizeof(ids[i]));
		if (ret == 0)
			ret = pki_sha256_hex(
			    f->data ? f->data : (const unsigned char *)"",
			    f->len, hashes[i]);
		if (ret == 0)
			ret = pki_seal(c->master_key, aad,
			               f->data ? f->data
			                       : (const unsigned char *)"",
			               f->len, &sealed[i], &len);
		ups[i] = (struct db_upload){
			.id = ids[i],
			.filename = f->name,
			.media_type = f->media_type,
			.data = sealed[i],
			.len = len,
			.size = f->len,
			.sha256 = hashes[i],
			.sealed = true,
		};
	}
	return ret;
}

/*
 * Whether leaf should become the order's leaf: when it has none, or when
 * this one is newer than the one it has (a reissue for the same key).
 */
static bool
leaf_is_new(const struct db_order *o, const struct db_cert_list *known,
            const struct pki_cert *leaf)
{
	if (!o->leaf_sha256)
		return true;
	if (strcmp(o->leaf_sha256, leaf->sha256) == 0)
		return false;
	for (size_t i = 0; i < known->count; i++) {
		if (strcmp(known->items[i].sha256, o->leaf_sha256) == 0)
			return leaf->not_before >= known->items[i].not_before;
	}
	return true;
}

static int
classify(const struct core_delivery *d, long leaf,
         const struct db_cert_list *known, struct core_upload_result *out)
{
	struct pki_cert **ctx = NULL;
	size_t nctx = 0;
	int ret = core_certs_parse(known, &ctx, &nctx);

	if (ret == 0)
		ret = pki_classify((const struct pki_cert *const *)d->certs,
		                   d->ncerts, leaf,
		                   (const struct pki_cert *const *)ctx, nctx,
		                   out->roles, out->reasons);
	for (size_t i = 0; ret == 0 && i < d->ncerts; i++) {
		for (size_t k = 0; k < known->count && !out->duplicate[i]; k++)
			out->duplicate[i] = strcmp(known->items[k].sha256,
			                           d->certs[i]->sha256) == 0;
	}
	core_certs_free(ctx, nctx);
	return ret;
}

int
core_order_upload(struct core *c, const char *id, const struct core_delivery *d,
                  const struct core_actor *who, struct core_upload_result *out,
                  struct core_problem *pb)
{
	struct db_order *o = NULL;
	struct db_cert_list *known = NULL;
	struct db_upload ups[MAX_FILES];
	struct db_cert dcs[CORE_MAX_UPLOAD_CERTS];
	unsigned char *sealed_files[MAX_FILES] = { NULL }, *sealed_key = NULL;
	char ids[MAX_FILES][40], hashes[MAX_FILES][PKI_SHA256_HEX_LEN + 1];
	char detail[256];
	size_t sealed_key_len = 0;
	struct db_order_upload u;
	enum order_state before;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(&u, 0, sizeof(u));
	out->leaf = -1;
	ret = core_order_load(c, id, &o, pb);
	if (ret < 0)
		return ret;
	before = o->state;
	if (!order_state_takes_uploads(o->state)) {
		ret = core_refuse_state(pb, ERR_CONFLICT, "invalid_state",
		                        o->state,
		                        "the order is closed and takes no "
		                        "delivery");
		goto out;
	}
	if (d->ncerts > CORE_MAX_UPLOAD_CERTS || d->nfiles > MAX_FILES) {
		ret = core_refuse(pb, ERR_INVALID, "upload_limits", NULL,
		                  "at most %d certificates and %d files per "
		                  "upload",
		                  CORE_MAX_UPLOAD_CERTS, MAX_FILES);
		goto out;
	}
	out->leaf = find_leaf(o, d);
	ret = check_keys(o, d, out->leaf, pb);
	if (ret == 0 && d->key && !o->has_key) {
		ret = pki_seal(c->master_key, o->id, d->key->data, d->key->len,
		               &sealed_key, &sealed_key_len);
		out->key_imported = ret == 0;
	}
	if (ret == 0)
		ret = db_order_certs(c->db, o->id, &known);
	if (ret == 0)
		ret = classify(d, out->leaf, known, out);
	if (ret == 0)
		ret = seal_files(c, o->id, d, ups, ids, hashes, sealed_files);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < d->ncerts; i++) {
		memset(&dcs[i], 0, sizeof(dcs[i]));
		core_db_cert_from(&dcs[i], d->certs[i]);
		dcs[i].role = (char *)pki_role_name(out->roles[i]);
		dcs[i].reason = out->reasons[i];
		dcs[i].upload_id = d->nfiles ? ids[0] : NULL;
	}
	out->new_leaf =
	    out->leaf >= 0 && leaf_is_new(o, known, d->certs[out->leaf]);
	snprintf(detail, sizeof(detail), "%zu file(s), %zu certificate(s)%s%s",
	         d->nfiles, d->ncerts, out->leaf >= 0 ? ", leaf " : "",
	         out->leaf >= 0 ? d->certs[out->leaf]->sha256 : "");
	u = (struct db_order_upload){
		.uploads = ups,
		.nuploads = d->nfiles,
		.certs = dcs,
		.ncerts = d->ncerts,
		.leaf_sha256 =
		    out->new_leaf ? d->certs[out->leaf]->sha256 : NULL,
		.sealed_key = sealed_key,
		.sealed_key_len = sealed_key_len,
		.key_origin = d->key_format,
		.detail = detail,
	};
	ret = db_order_upload_apply(c->db, o->id, &u, who->name, util_now(),
	                            &out->state, &out->state_changed);
	if (ret == ERR_CONFLICT) /* closed meanwhile: nothing was stored */
		ret = core_refuse_state(pb, ret, "invalid_state", out->state,
		                        "the order was closed meanwhile and "
		                        "takes no delivery");
	if (ret < 0)
		goto out;
	log_info("uploads: %s: %s", o->id, detail);
	/* A reissue replaces a verified leaf: verify the order again. */
	if (out->new_leaf && o->leaf_sha256 &&
	    (before == ORDER_READY || before == ORDER_DEPLOYED ||
	     before == ORDER_RENEWAL_DUE)) {
		struct pki_verify_opts opts = { .at = util_now() };
		struct core_verify_result vr = { 0 };
		struct db_order *now = NULL;

		if (db_order_get(c->db, o->id, &now) == 0 &&
		    core_verify_loaded(c, now, &opts, who, &vr, NULL) == 0) {
			out->reverified = true;
			out->overall = vr.overall;
			out->state = vr.state;
			out->state_changed = vr.state != before;
		}
		free(vr.report);
		db_order_free(now);
	}
out:
	for (size_t i = 0; i < MAX_FILES; i++)
		free(sealed_files[i]);
	free(sealed_key);
	db_cert_list_free(known);
	db_order_free(o);
	return ret;
}

int
core_pool_add(struct core *c, struct pki_cert *const *certs, size_t n,
              const struct core_actor *who, size_t *added,
              struct core_problem *pb)
{
	struct db_cert *dcs;
	int ret;

	for (size_t i = 0; i < n; i++) {
		if (!certs[i]->is_ca && !certs[i]->self_signed)
			return core_refuse(
			    pb, ERR_INVALID, "not_a_ca", NULL,
			    "%.200s is not a CA certificate: the "
			    "pool holds roots and intermediates "
			    "only",
			    certs[i]->subject);
	}
	dcs = calloc(n + 1, sizeof(*dcs));
	if (!dcs)
		return ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		core_db_cert_from(&dcs[i], certs[i]);
	ret = db_pool_add(c->db, dcs, n, who->name, util_now(), added);
	core_cache_invalidate(c);
	free(dcs);
	return ret;
}

int
core_pool_remove(struct core *c, const char *sha256,
                 const struct core_actor *who)
{
	int ret;

	(void)who; /* the pool's removal event names no order */
	ret = db_pool_remove(c->db, sha256);
	core_cache_invalidate(c);
	return ret;
}

/* Seals one legacy upload; the AAD binds it to its order. */
static int
seal_one(void *arg, const char *order_id, const unsigned char *data, size_t len,
         unsigned char **sealed, size_t *sealed_len)
{
	struct core *c = arg;
	char aad[80];
	int ret = upload_aad(order_id, aad, sizeof(aad));

	return ret < 0 ? ret
	               : pki_seal(c->master_key, aad, data, len, sealed,
	                          sealed_len);
}

int
core_uploads_seal_legacy(struct core *c)
{
	size_t n = 0;
	int ret = db_uploads_seal_clear(c->db, seal_one, c, &n);

	if (ret == 0 && n > 0)
		log_info("core: sealed %zu upload(s) stored in clear by an "
		         "earlier version",
		         n);
	return ret;
}
