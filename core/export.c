/*
 * export.c: an order's files for the consoles: the PFX (the only way a key
 * leaves, always with an audit event) and the certificates in PEM or DER.
 */
#include "core/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct core_export_format formats[] = {
	{ "pkcs12", "application/x-pkcs12", ".pfx", true },
	{ "pem-chain", "application/pem-certificate-chain", ".chain.pem",
	  false },
	{ "pem-leaf", "application/x-pem-file", ".pem", false },
	{ "pem-ca-bundle", "application/x-pem-file", ".ca-bundle.pem", false },
	{ "pem-root", "application/x-pem-file", ".root.pem", false },
	{ "der-leaf", "application/pkix-cert", ".cer", false },
};

#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

const struct core_export_format *
core_export_format_find(const char *name)
{
	for (size_t i = 0; name && i < NFORMATS; i++) {
		if (strcmp(name, formats[i].name) == 0)
			return &formats[i];
	}
	return NULL;
}

const char *
core_export_format_names(void)
{
	return "pkcs12, pem-chain, pem-leaf, pem-ca-bundle, pem-root, "
	       "der-leaf";
}

void
core_export_result_clear(struct core_export_result *r)
{
	pki_secret_free(r->file);
	memset(r, 0, sizeof(*r));
}

void
core_download_name(const char *cn, const char *suffix, char *out, size_t n)
{
	size_t o = 0;

	if (cn && strncmp(cn, "*.", 2) == 0) {
		o = (size_t)snprintf(out, n, "wildcard");
		cn++;
	}
	for (; cn && *cn && o + 1 < n; cn++) {
		char ch = *cn;
		bool ok = (ch >= 'a' && ch <= 'z') ||
		          (ch >= 'A' && ch <= 'Z') ||
		          (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';

		out[o++] = ok ? ch : '_';
	}
	if (o == 0)
		o = (size_t)snprintf(out, n, "request");
	snprintf(out + o, n - o, "%s", suffix);
}

/* The certificate whose SHA-256 starts sha (64 digits), or NULL. */
static const struct pki_cert *
find_cert(struct pki_cert *const *a, size_t na, const struct core *c,
          const char *sha)
{
	for (size_t i = 0; i < na; i++) {
		if (strncmp(a[i]->sha256, sha, PKI_SHA256_HEX_LEN) == 0)
			return a[i];
	}
	for (size_t i = 0; i < c->nsystem; i++) {
		if (strncmp(c->system_certs[i]->sha256, sha,
		            PKI_SHA256_HEX_LEN) == 0)
			return c->system_certs[i];
	}
	/* a built-in cross-certificate that completed the chain */
	return core_bridge_find(sha);
}

/*
 * The verified chain, leaf first, from the latest verification, looked up
 * in the order's certificates, the CA pool, the system store and the
 * built-in cross-certificates (so the PFX carries the bridge).
 * ERR_NOT_FOUND: never verified; ERR_INVALID: a certificate is gone.
 */
static int
verified_chain(struct core *c, const struct db_order *o,
               struct pki_cert ***owned, size_t *nowned,
               const struct pki_cert **chain, size_t *n)
{
	struct db_cert_list *mine = NULL, *pool = NULL;
	struct pki_cert **a = NULL, **b = NULL;
	size_t na = 0, nb = 0;
	char *list = NULL;
	int ret = db_verification_chain(c->db, o->id, &list);

	if (ret == 0)
		ret = db_order_certs(c->db, o->id, &mine);
	if (ret == 0)
		ret = db_pool_list(c->db, &pool);
	if (ret == 0)
		ret = core_certs_parse(mine, &a, &na);
	if (ret == 0)
		ret = core_certs_parse(pool, &b, &nb);
	if (ret == 0) {
		struct pki_cert **all =
		    realloc(a, (na + nb + 1) * sizeof(*all));

		if (!all) {
			ret = ERR_NOMEM;
		} else {
			a = all;
			memcpy(a + na, b, nb * sizeof(*b));
			na += nb;
			nb = 0;
		}
	}
	*n = 0;
	/* the chain is SHA-256s (64 hex digits) separated by one space */
	for (const char *sha = ret == 0 ? list : NULL; sha && *sha;
	     sha += sha[PKI_SHA256_HEX_LEN] ? PKI_SHA256_HEX_LEN + 1
	                                    : PKI_SHA256_HEX_LEN) {
		const struct pki_cert *pc = strlen(sha) >= PKI_SHA256_HEX_LEN
		                                ? find_cert(a, na, c, sha)
		                                : NULL;

		if (!pc || *n >= PKI_P12_MAX_CERTS) {
			ret = ERR_INVALID;
			break;
		}
		chain[(*n)++] = pc;
	}
	if (ret == 0 && (*n == 0 || !o->leaf_sha256 ||
	                 strcmp(chain[0]->sha256, o->leaf_sha256) != 0))
		ret = ERR_INVALID;
	*owned = a;
	*nowned = na;
	core_certs_free(b, nb);
	free(list);
	db_cert_list_free(mine);
	db_cert_list_free(pool);
	return ret;
}

struct p12_job {
	const struct pki_secret *key;
	const struct pki_cert *const *certs;
	size_t ncerts;
	const struct core_export_req *req;
	unsigned iterations;
	struct pki_secret *pfx;
	const char *why;
	int ret;
};

/* Makes the PFX and reads it back the way the consoles will. */
static void
p12_run(void *arg)
{
	struct p12_job *j = arg;

	j->ret = pki_p12_export(j->key, j->certs, j->ncerts,
	                        j->req->friendly_name, j->req->password,
	                        j->req->profile, j->iterations, &j->pfx);
	if (j->ret == 0)
		j->ret =
		    pki_p12_check(j->pfx, j->req->password, j->certs, j->ncerts,
		                  j->req->profile, j->iterations, &j->why);
	if (j->ret < 0 && j->pfx) {
		pki_secret_free(j->pfx);
		j->pfx = NULL;
	}
}

static int
export_pfx(struct core *c, const struct db_order *o,
           const struct core_export_req *r, const struct pki_cert **chain,
           size_t nchain, const struct core_actor *who,
           struct core_export_result *out, struct core_problem *pb)
{
	struct p12_job job = { .certs = chain,
		               .ncerts = nchain,
		               .req = r,
		               .iterations = r->iterations
		                                 ? r->iterations
		                                 : PKI_P12_ITER_DEFAULT };
	struct pki_secret *key = NULL;
	const char *problem = pki_p12_iterations_problem(job.iterations);
	char detail[256];
	int ret;

	if (problem)
		return core_refuse(pb, ERR_INVALID, "validation_failed",
		                   "iterations", "%s", problem);
	ret = core_order_key(c, o->id, &key);
	job.key = key;
	if (ret == 0)
		ret = workq_run(c->slow, p12_run, &job);
	if (ret == 0)
		ret = job.ret;
	if (ret == ERR_INVALID && r->friendly_name && !job.why) {
		ret = core_refuse(pb, ERR_INVALID, "validation_failed",
		                  "friendly_name",
		                  "friendly_name must be 1..255 printable "
		                  "ASCII characters");
		goto out;
	}
	if (ret < 0) {
		if (ret != ERR_BUSY)
			log_error("exports: %s: the PFX failed: %s", o->id,
			          job.why ? job.why : err_str(ret));
		goto out;
	}
	snprintf(detail, sizeof(detail),
	         "pkcs12 %s, %u iterations, %zu certificates, leaf %.64s",
	         r->profile == PKI_P12_MODERN ? "modern" : "compat",
	         job.iterations, nchain, chain[0]->sha256);
	/* The audit row is durable before the key leaves. */
	ret = db_order_event(c->db, o->id, who->name, "key_export", detail,
	                     util_now());
	if (ret < 0)
		goto out;
	log_info("exports: %s: key exported by %s (%s)", o->id, who->name,
	         detail);
	out->file = job.pfx;
	job.pfx = NULL;
out:
	pki_secret_free(job.pfx);
	pki_secret_free(key);
	return ret;
}

/* The certificates of the chain that the format asks for, in PEM or DER. */
static int
export_certs(const struct core_export_format *f, const struct pki_cert **chain,
             size_t nchain, struct core_export_result *out)
{
	struct pki_secret *s = calloc(1, sizeof(*s));
	int ret = 0;

	if (!s)
		return ERR_NOMEM;
	if (strcmp(f->name, "der-leaf") == 0) {
		s->data = malloc(chain[0]->der_len);
		if (!s->data) {
			free(s);
			return ERR_NOMEM;
		}
		memcpy(s->data, chain[0]->der, chain[0]->der_len);
		s->len = chain[0]->der_len;
		out->file = s;
		return 0;
	}
	for (size_t i = 0; ret == 0 && i < nchain; i++) {
		bool leaf = i == 0, root = i + 1 == nchain;
		char *pem = NULL;
		unsigned char *nb;
		size_t n;

		if ((strcmp(f->name, "pem-leaf") == 0 && !leaf) ||
		    (strcmp(f->name, "pem-ca-bundle") == 0 && leaf) ||
		    (strcmp(f->name, "pem-root") == 0 && !root))
			continue;
		ret = pki_cert_to_pem(chain[i], &pem);
		if (ret < 0)
			break;
		n = strlen(pem);
		nb = realloc(s->data, s->len + n);
		if (nb) {
			memcpy(nb + s->len, pem, n);
			s->data = nb;
			s->len += n;
		} else {
			ret = ERR_NOMEM;
		}
		free(pem);
	}
	if (ret == 0 && s->len == 0)
		ret = ERR_INVALID; /* a verified chain has a leaf and a top */
	if (ret < 0) {
		pki_secret_free(s);
		return ret;
	}
	out->file = s;
	return 0;
}

int
core_order_export(struct core *c, const char *id,
                  const struct core_export_req *r, const struct core_actor *who,
                  struct core_export_result *out, struct core_problem *pb)
{
	const struct pki_cert *chain[PKI_P12_MAX_CERTS];
	struct pki_cert **owned = NULL;
	struct db_order *o = NULL;
	size_t nowned = 0, nchain = 0;
	enum order_state st;
	int ret = core_order_load(c, id, &o, pb);

	if (ret < 0)
		return ret;
	st = o->state;
	if (!o->leaf_sha256) {
		ret = core_refuse_state(pb, ERR_CONFLICT, "no_leaf", st,
		                        "the order has no certificate yet: "
		                        "upload the CA's delivery first");
		goto out;
	}
	if (r->format->key && !order_state_exports_key(st)) {
		ret = core_refuse_state(pb, ERR_CONFLICT, "invalid_state", st,
		                        "a key leaves only for an order whose "
		                        "chain verified (ready, deployed, "
		                        "renewal_due): verify it first");
		goto out;
	}
	if (r->format->key && !o->has_key) {
		ret = core_refuse(pb, ERR_CONFLICT, "no_key", NULL,
		                  "the order's key is not stored here (its CSR "
		                  "was made elsewhere): export the PFX where "
		                  "the key is");
		goto out;
	}
	ret = verified_chain(c, o, &owned, &nowned, chain, &nchain);
	if (ret == ERR_NOT_FOUND) {
		ret = core_refuse(pb, ERR_CONFLICT, "no_verification", NULL,
		                  "verify the order first: exports carry the "
		                  "verified chain");
		goto out;
	}
	if (ret == ERR_INVALID) {
		ret = core_refuse(pb, ERR_CONFLICT, "chain_changed", NULL,
		                  "a certificate of the verified chain is no "
		                  "longer here (detached, or removed from the "
		                  "CA pool?): upload it again and verify the "
		                  "order again");
		goto out;
	}
	if (ret < 0)
		goto out;
	core_download_name(o->common_name, r->format->suffix, out->filename,
	                   sizeof(out->filename));
	out->media_type = r->format->media_type;
	if (r->format->key)
		ret = export_pfx(c, o, r, chain, nchain, who, out, pb);
	else
		ret = export_certs(r->format, chain, nchain, out);
out:
	core_certs_free(owned, nowned);
	db_order_free(o);
	return ret;
}
