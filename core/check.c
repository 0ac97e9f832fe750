/*
 * check.c: `amtcertd check`: whether the store is whole and every secret
 * in it still opens with the master key: SQLite's integrity and foreign
 * keys, every sealed key (decrypts, and is the key of its order's CSR and
 * certificate), every sealed upload (decrypts to the bytes whose SHA-256
 * and size were recorded). Reads only.
 */
#include "core/internal.h"

#include "common/err.h"
#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A key row as found: which order, and the public key it holds. */
struct check_key {
	char *order_id;
	char spki[PKI_SHA256_HEX_LEN + 1]; /* "" when it does not open */
	bool seen;                         /* an order claimed it */
};

struct check_ctx {
	struct core *c;
	core_check_fn *fn;
	void *arg;
	struct core_check_result *r;
	struct check_key *keys;
	size_t nkeys, cap;
};

static void problem(struct check_ctx *x, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
problem(struct check_ctx *x, const char *what, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	x->r->problems++;
	if (x->fn)
		x->fn(x->arg, what, detail);
}

static int
key_row(struct check_ctx *x, const struct db_sealed *s)
{
	struct pki_secret *key = NULL;
	struct check_key *k;
	char what[96];

	if (x->nkeys == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct check_key *v = realloc(x->keys, cap * sizeof(*v));

		if (!v)
			return ERR_NOMEM;
		x->keys = v;
		x->cap = cap;
	}
	k = &x->keys[x->nkeys];
	memset(k, 0, sizeof(*k));
	k->order_id = strdup(s->id);
	if (!k->order_id)
		return ERR_NOMEM;
	x->nkeys++;
	x->r->keys++;
	snprintf(what, sizeof(what), "key of %.60s", s->id);
	if (pki_unseal(x->c->master_key, s->id, s->data, s->len, &key) < 0) {
		problem(x, what, "does not decrypt with the master key");
		return 0;
	}
	if (pki_key_spki_sha256(key, k->spki) < 0) {
		k->spki[0] = '\0';
		problem(x, what, "decrypts, but is no readable private key");
	}
	pki_secret_free(key);
	return 0;
}

static int
upload_row(struct check_ctx *x, const struct db_sealed *s)
{
	struct pki_secret *pt = NULL;
	char aad[80], what[96], hex[PKI_SHA256_HEX_LEN + 1];

	x->r->uploads++;
	snprintf(what, sizeof(what), "upload %.60s", s->id);
	if (!s->sealed) {
		x->r->clear_uploads++;
		problem(x, what,
		        "is stored in clear (written by an earlier version); "
		        "starting the daemon seals it");
		return 0;
	}
	snprintf(aad, sizeof(aad), "upload:%s", s->order_id ? s->order_id : "");
	if (pki_unseal(x->c->master_key, aad, s->data, s->len, &pt) < 0) {
		problem(x, what, "does not decrypt with the master key");
		return 0;
	}
	if (s->size < 0 || pt->len != (size_t)s->size ||
	    pki_sha256_hex(pt->data, pt->len, hex) < 0 || !s->sha256 ||
	    strcmp(hex, s->sha256) != 0)
		problem(x, what,
		        "decrypts, but not to the file recorded (%lld bytes, "
		        "SHA-256 %.64s)",
		        (long long)s->size, s->sha256 ? s->sha256 : "none");
	else
		x->r->uploads_ok++;
	pki_secret_free(pt);
	return 0;
}

static int
sealed_row(void *arg, const struct db_sealed *s)
{
	struct check_ctx *x = arg;

	return strcmp(s->table, "order_keys") == 0 ? key_row(x, s)
	                                           : upload_row(x, s);
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct check_key *)a)->order_id,
	              ((const struct check_key *)b)->order_id);
}

static struct check_key *
key_find(struct check_ctx *x, const char *order_id)
{
	struct check_key k = { .order_id = (char *)order_id };

	return x->nkeys ? bsearch(&k, x->keys, x->nkeys, sizeof(k), key_cmp)
	                : NULL;
}

/* The order's CSR, key and leaf: one public key. */
static int
order_check(struct check_ctx *x, const char *id)
{
	struct db_order *o = NULL;
	struct db_cert_list *certs = NULL;
	struct pki_csr_info *csr = NULL;
	struct pki_cert *leaf = NULL;
	struct check_key *k;
	const char *why = NULL, *pub;
	char what[96];
	int ret = db_order_get(x->c->db, id, &o);

	if (ret == ERR_NOT_FOUND)
		return 0; /* gone since the list was read */
	if (ret < 0)
		return ret;
	x->r->orders++;
	snprintf(what, sizeof(what), "order %.60s", id);
	pub = o->public_key_sha256;
	if (o->csr_pem) {
		if (pki_csr_parse(o->csr_pem, strlen(o->csr_pem), &csr, &why) <
		    0)
			problem(x, what, "its CSR does not read: %s",
			        why ? why : "unreadable");
		else if (!pub || strcmp(csr->spki_sha256, pub) != 0)
			problem(x, what,
			        "its CSR is for another public key than the "
			        "order's");
		else
			x->r->csrs_ok++;
	}
	k = key_find(x, id);
	if (k)
		k->seen = true;
	if (o->has_key && !k) {
		problem(x, what, "has a key, but no sealed key is stored");
	} else if (!o->has_key && k) {
		problem(x, what,
		        "says it has no key, yet a sealed key is "
		        "stored for it");
	} else if (k && k->spki[0]) {
		if (!pub || strcmp(k->spki, pub) != 0)
			problem(x, what,
			        "its sealed key is not the key of its CSR");
		else
			x->r->keys_ok++;
	}
	if (o->leaf_sha256) {
		const struct db_cert *dc = NULL;

		ret = db_order_certs(x->c->db, id, &certs);
		if (ret < 0)
			goto cleanup;
		for (size_t i = 0; i < certs->count && !dc; i++) {
			if (strcmp(certs->items[i].sha256, o->leaf_sha256) == 0)
				dc = &certs->items[i];
		}
		if (!dc)
			problem(x, what, "its certificate %.64s is not stored",
			        o->leaf_sha256);
		else if (pki_cert_parse(dc->der, dc->der_len, &leaf, NULL) <
		             0 ||
		         strcmp(leaf->sha256, o->leaf_sha256) != 0)
			problem(x, what,
			        "its certificate %.64s is damaged in the store",
			        o->leaf_sha256);
		else if (!pub || strcmp(leaf->spki_sha256, pub) != 0)
			problem(x, what,
			        "its certificate is for another public key "
			        "than its CSR's");
		else
			x->r->leaves_ok++;
	}
	ret = 0;
cleanup:
	pki_cert_free(leaf);
	db_cert_list_free(certs);
	pki_csr_info_free(csr);
	db_order_free(o);
	return ret;
}

/* Every order, a page at a time, oldest first. */
static int
orders_check(struct check_ctx *x)
{
	struct db_order_pos after = { 0 };
	bool more = true;
	int ret = 0;

	while (more && ret == 0) {
		struct db_order_filter f = {
			.sort = DB_ORDER_SORT_CREATED,
			.after = after.seq ? &after : NULL,
			.limit = 200,
		};
		struct db_order_list *l = NULL;

		ret = db_order_list(x->c->db, &f, &l);
		if (ret < 0)
			break;
		for (size_t i = 0; i < l->count && ret == 0; i++)
			ret = order_check(x, l->items[i].id);
		more = l->more && l->count > 0;
		if (more)
			after.seq = l->items[l->count - 1].seq;
		db_order_list_free(l);
	}
	return ret;
}

void
core_check_result_clear(struct core_check_result *r)
{
	free(r->integrity);
	memset(r, 0, sizeof(*r));
}

int
core_store_check(struct core *c, core_check_fn *fn, void *arg,
                 struct core_check_result *out)
{
	struct check_ctx x = { .c = c, .fn = fn, .arg = arg, .r = out };
	int ret;

	memset(out, 0, sizeof(*out));
	ret = db_integrity_check(c->db, &out->integrity);
	if (ret < 0)
		goto cleanup;
	out->integrity_ok = out->integrity[0] == '\0';
	if (!out->integrity_ok)
		problem(&x, "database", "SQLite's integrity check failed");
	ret = db_sealed_each(c->db, sealed_row, &x);
	if (ret < 0)
		goto cleanup;
	if (x.nkeys)
		qsort(x.keys, x.nkeys, sizeof(*x.keys), key_cmp);
	ret = orders_check(&x);
	if (ret < 0)
		goto cleanup;
	for (size_t i = 0; i < x.nkeys; i++) {
		if (!x.keys[i].seen)
			problem(&x, "database",
			        "a sealed key is stored for %.60s, which is no "
			        "order",
			        x.keys[i].order_id);
	}
cleanup:
	for (size_t i = 0; i < x.nkeys; i++)
		free(x.keys[i].order_id);
	free(x.keys);
	return ret;
}
