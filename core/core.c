/*
 * core.c: what every workflow shares: refusals, loading an order, parsing
 * stored certificates, key generation off the request threads, the system
 * trust store (and with it the cache of the CA pool and the AMT roots,
 * core/verify.c), and sealing what older versions stored in clear.
 */
#include "core/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int refuse_v(struct core_problem *pb, int err, const char *code,
                    const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static int
refuse_v(struct core_problem *pb, int err, const char *code, const char *field,
         const char *fmt, va_list ap)
{
	if (pb) {
		memset(pb, 0, sizeof(*pb));
		pb->code = code;
		pb->field = field;
		vsnprintf(pb->detail, sizeof(pb->detail), fmt, ap);
	}
	return err;
}

int
core_refuse(struct core_problem *pb, int err, const char *code,
            const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = refuse_v(pb, err, code, field, fmt, ap);
	va_end(ap);
	return err;
}

int
core_refuse_state(struct core_problem *pb, int err, const char *code,
                  enum order_state state, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = refuse_v(pb, err, code, NULL, fmt, ap);
	va_end(ap);
	if (pb) {
		pb->has_state = true;
		pb->state = state;
	}
	return err;
}

int
core_order_load(struct core *c, const char *id, struct db_order **out,
                struct core_problem *pb)
{
	int ret = db_order_get(c->db, id, out);

	if (ret == ERR_NOT_FOUND)
		return core_refuse(pb, ret, "order_not_found", "id",
		                   "there is no order with this id");
	return ret;
}

int
core_order_key(struct core *c, const char *order_id, struct pki_secret **out)
{
	unsigned char *ct = NULL;
	size_t ct_len = 0;
	int ret = db_order_key_get(c->db, order_id, &ct, &ct_len);

	if (ret == 0)
		ret = pki_unseal(c->master_key, order_id, ct, ct_len, out);
	if (ct) {
		util_wipe(ct, ct_len);
		free(ct);
	}
	return ret;
}

void
core_db_cert_from(struct db_cert *d, const struct pki_cert *c)
{
	d->sha256 = (char *)c->sha256;
	d->der = c->der;
	d->der_len = c->der_len;
	d->sha1 = (char *)c->sha1;
	d->sha384 = (char *)c->sha384;
	d->subject = c->subject;
	d->issuer = c->issuer;
	d->serial = c->serial;
	d->not_before = c->not_before;
	d->not_after = c->not_after;
	d->spki_sha256 = (char *)c->spki_sha256;
	d->is_ca = c->is_ca;
	d->self_signed = c->self_signed;
}

int
core_certs_parse(const struct db_cert_list *l, struct pki_cert ***out,
                 size_t *n)
{
	struct pki_cert **v = calloc(l->count + 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return ERR_NOMEM;
	for (size_t i = 0; i < l->count; i++) {
		if (pki_cert_parse(l->items[i].der, l->items[i].der_len, &v[k],
		                   NULL) == 0)
			k++;
	}
	*out = v;
	*n = k;
	return 0;
}

void
core_certs_free(struct pki_cert **certs, size_t n)
{
	for (size_t i = 0; certs && i < n; i++)
		pki_cert_free(certs[i]);
	free(certs);
}

#define SYSTEM_ROOTS_MAX (4u << 20)

struct keygen_job {
	unsigned bits;
	struct pki_secret *key;
	int ret;
};

static void
keygen_run(void *arg)
{
	struct keygen_job *job = arg;

	job->ret = pki_key_generate_rsa(job->bits, &job->key);
}

int
core_key_generate(struct core *c, unsigned bits, struct pki_secret **out)
{
	struct keygen_job job = { .bits = bits };
	int ret = workq_run(c->slow, keygen_run, &job);

	if (ret == 0)
		ret = job.ret;
	if (ret < 0) {
		pki_secret_free(job.key);
		return ret;
	}
	*out = job.key;
	return 0;
}

void
core_system_roots_load(struct core *c, const char *path)
{
	static const struct pki_intake_limits lim = {
		.max_input = SYSTEM_ROOTS_MAX,
		.max_total = SYSTEM_ROOTS_MAX,
		.max_entries = 1,
		.max_ratio = 1,
		.max_depth = 0,
		.max_certs = 1024,
	};
	struct pki_bundle b;
	unsigned char *buf = NULL;
	struct stat st;
	const char *why = NULL;
	ssize_t got;
	int fd;

	pki_bundle_init(&b);
	core_cache_init(c);
	if (!path || !*path)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 ||
	    st.st_size > (off_t)SYSTEM_ROOTS_MAX) {
		log_warn("core: no system trust store at %s", path);
		if (fd >= 0)
			close(fd);
		return;
	}
	buf = malloc((size_t)st.st_size);
	got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (got != (ssize_t)st.st_size ||
	    pki_intake_add(&b, buf, (size_t)got, path, NULL, &lim, &why) < 0) {
		log_warn("core: cannot read the system trust store %s: %s",
		         path, why ? why : "read error");
		goto done;
	}
	c->system_certs =
	    calloc(b.count ? b.count : 1, sizeof(*c->system_certs));
	for (size_t i = 0; c->system_certs && i < b.count; i++) {
		/* parsed by the intake; NULL: unreadable, skipped */
		if (b.certs[i].cert)
			c->system_certs[c->nsystem++] = b.certs[i].cert;
		b.certs[i].cert = NULL;
	}
	log_info("core: %zu certificates in the system trust store %s",
	         c->nsystem, path);
done:
	free(buf);
	pki_bundle_clear(&b);
}

void
core_system_roots_free(struct core *c)
{
	core_cache_free(c);
	core_certs_free(c->system_certs, c->nsystem);
	c->system_certs = NULL;
	c->nsystem = 0;
}
