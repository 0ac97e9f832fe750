/*
 * certcache.c: CA certificates parsed once per process, like Go's
 * x509.CertPool keeps its certificates parsed.
 *
 * Why CA certificates recur: every device certificate a CA issues comes
 * with the same issuing CA, the same cross-signed CA and the same root, so
 * a fleet's uploads and inspections carry the same few CA certificates
 * every time, and the CA pool and the system trust store hold them too.
 * Parsing one is GnuTLS building its ASN.1 structures, three digests, a
 * key import and, for a root, a signature check of itself; checking that
 * one of them signed another is a public-key operation whose answer
 * depends on the two DERs alone. Both are kept here.
 *
 * What is kept: certificates whose basicConstraints say cA (and self-signed
 * v1 roots, which have no basicConstraints), keyed by the SHA-256 of their
 * DER, and the verdicts of signature checks between two of them. Leaf
 * certificates are new in every upload and are never kept, nor is any
 * answer. pki_cert_parse() of a DER found here returns the very object it
 * made the first time: byte for byte what a new parse would give.
 *
 * Bounded: CACHE_MAX certificates, replaced by the CLOCK rule (a
 * certificate found since the hand last passed it stays). Evicting drops
 * the cache's reference only; requests that hold one keep using it.
 *
 * Threads: a kept certificate is never written to once shared; holders
 * are counted with an atomic counter (pki_cert_free() drops one). The
 * table and the verdicts are under one mutex, held for a hash lookup or an
 * insertion only, never for a parse or a signature check.
 */
#include "pki/internal.h"
#include "pki/pki.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* The system trust store alone holds ~150 roots; room for them, a CA pool
 * and what uploads bring. */
#define CACHE_MAX     512
#define CACHE_BUCKETS 1024 /* a power of two */
/* Issuers whose verdict one certificate keeps: a CA has one or two
 * (itself, or the root that cross-signs it). */
#define VERDICTS 4

struct verdict {
	unsigned char parent[PKI_CERTCACHE_KEY_LEN];
	bool signed_by;
};

struct entry {
	struct pki_cert *cert; /* NULL: free */
	unsigned char key[PKI_CERTCACHE_KEY_LEN];
	unsigned next; /* next in the bucket's chain, index + 1; 0 ends */
	bool found;    /* found since the CLOCK hand last passed */
	unsigned char nverdicts;
	unsigned char verdict_next; /* the slot replaced next when full */
	struct verdict verdicts[VERDICTS];
};

static struct {
	pthread_mutex_t lock;
	struct entry entries[CACHE_MAX];
	unsigned buckets[CACHE_BUCKETS]; /* index + 1 of the first; 0 none */
	size_t count;
	size_t hand;
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static size_t
bucket_of(const unsigned char *key)
{
	/* the key is a SHA-256: its first bytes are as good as any hash */
	return ((size_t)key[0] | (size_t)key[1] << 8 | (size_t)key[2] << 16) &
	       (CACHE_BUCKETS - 1);
}

/* The entry of key, or NULL. Lock held. */
static struct entry *
entry_find(const unsigned char *key)
{
	for (unsigned i = cache.buckets[bucket_of(key)]; i;
	     i = cache.entries[i - 1].next) {
		struct entry *e = &cache.entries[i - 1];

		if (memcmp(e->key, key, PKI_CERTCACHE_KEY_LEN) == 0)
			return e;
	}
	return NULL;
}

/* Takes e out of its bucket's chain and empties it; returns its
 * certificate, whose reference the caller drops. Lock held. */
static struct pki_cert *
entry_evict(struct entry *e)
{
	unsigned self = (unsigned)(e - cache.entries) + 1;
	unsigned *link = &cache.buckets[bucket_of(e->key)];
	struct pki_cert *c = e->cert;

	while (*link && *link != self)
		link = &cache.entries[*link - 1].next;
	if (*link)
		*link = e->next;
	memset(e, 0, sizeof(*e));
	cache.count--;
	return c;
}

/* A free entry, evicting one by the CLOCK rule when all are taken; *victim
 * the certificate evicted or NULL. Lock held. */
static struct entry *
entry_free_slot(struct pki_cert **victim)
{
	*victim = NULL;
	if (cache.count < CACHE_MAX) {
		for (size_t i = 0; i < CACHE_MAX; i++) {
			if (!cache.entries[i].cert)
				return &cache.entries[i];
		}
	}
	for (;;) {
		struct entry *e = &cache.entries[cache.hand];

		cache.hand = (cache.hand + 1) % CACHE_MAX;
		if (e->found) {
			e->found = false;
			continue;
		}
		*victim = entry_evict(e);
		return e;
	}
}

struct pki_cert *
pki_certcache_find(const unsigned char *key)
{
	struct pki_cert *c = NULL;
	struct entry *e;

	pthread_mutex_lock(&cache.lock);
	e = entry_find(key);
	if (e) {
		e->found = true;
		c = e->cert;
		atomic_fetch_add(&c->refs, 1);
	}
	pthread_mutex_unlock(&cache.lock);
	return c;
}

/* What the cache keeps: a CA certificate, or a self-signed v1 root. */
static bool
keepable(const struct pki_cert *c)
{
	return c->is_ca || (c->self_signed && !c->has_basic_constraints);
}

void
pki_certcache_add(struct pki_cert *c, const unsigned char *key)
{
	struct pki_cert *victim = NULL;
	struct entry *e;

	if (!keepable(c))
		return; /* a leaf: its caller's alone */
	c->shared = true;
	atomic_init(&c->refs, 1);
	pthread_mutex_lock(&cache.lock);
	/* another thread parsed the same DER meanwhile: keep its copy; ours
	 * goes with its last holder */
	if (!entry_find(key)) {
		size_t b = bucket_of(key);

		e = entry_free_slot(&victim);
		e->cert = c;
		memcpy(e->key, key, PKI_CERTCACHE_KEY_LEN);
		e->next = cache.buckets[b];
		cache.buckets[b] = (unsigned)(e - cache.entries) + 1;
		cache.count++;
		atomic_fetch_add(&c->refs, 1);
	}
	pthread_mutex_unlock(&cache.lock);
	pki_cert_free(victim);
}

static int
hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* The cache's key of a shared certificate, from its SHA-256 hex. */
static bool
key_of(const struct pki_cert *c, unsigned char *key)
{
	if (!c->shared)
		return false;
	for (size_t i = 0; i < PKI_CERTCACHE_KEY_LEN; i++) {
		int hi = hex_value(c->sha256[2 * i]);
		int lo = hex_value(c->sha256[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

int
pki_certcache_verdict(const struct pki_cert *child,
                      const struct pki_cert *parent)
{
	unsigned char ck[PKI_CERTCACHE_KEY_LEN], pk[PKI_CERTCACHE_KEY_LEN];
	const struct entry *e;
	int ret = -1;

	if (!key_of(child, ck) || !key_of(parent, pk))
		return -1;
	pthread_mutex_lock(&cache.lock);
	e = entry_find(ck);
	for (size_t i = 0; e && i < e->nverdicts; i++) {
		if (memcmp(e->verdicts[i].parent, pk, sizeof(pk)) == 0) {
			ret = e->verdicts[i].signed_by ? 1 : 0;
			break;
		}
	}
	pthread_mutex_unlock(&cache.lock);
	return ret;
}

void
pki_certcache_verdict_keep(const struct pki_cert *child,
                           const struct pki_cert *parent, bool signed_by)
{
	unsigned char ck[PKI_CERTCACHE_KEY_LEN], pk[PKI_CERTCACHE_KEY_LEN];
	struct entry *e;

	if (!key_of(child, ck) || !key_of(parent, pk))
		return;
	pthread_mutex_lock(&cache.lock);
	/* only between two certificates the cache holds */
	e = entry_find(pk) ? entry_find(ck) : NULL;
	if (e) {
		struct verdict *v = NULL;

		for (size_t i = 0; i < e->nverdicts && !v; i++) {
			if (memcmp(e->verdicts[i].parent, pk, sizeof(pk)) == 0)
				v = &e->verdicts[i];
		}
		if (!v && e->nverdicts < VERDICTS) {
			v = &e->verdicts[e->nverdicts++];
		} else if (!v) {
			v = &e->verdicts[e->verdict_next];
			e->verdict_next =
			    (unsigned char)((e->verdict_next + 1) % VERDICTS);
		}
		memcpy(v->parent, pk, sizeof(pk));
		v->signed_by = signed_by;
	}
	pthread_mutex_unlock(&cache.lock);
}
