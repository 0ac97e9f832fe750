/*
 * chain.c: every path from a leaf to a root, ranked for Intel AMT.
 *
 * AMT trusts a chain by the hash of the root at its end (amt-facts.md
 * section 2), and the same intermediate can exist twice: self-signed and
 * cross-signed by an older root (USERTrust under AAA Certificate Services).
 * So we do not stop at the first chain that verifies: a depth-first search
 * collects every path, each is matched against the AMT root list, and the
 * ranking puts the one AMT will accept first. The losers say why they lost,
 * in words a user can act on.
 *
 * An issuer of a certificate is a candidate whose subject DN equals its
 * issuer DN (AKI/SKI too when both exist) and whose key verifies its
 * signature (pki_cert_is_signed_by(): SHA-1 accepted, CA flags not
 * looked at; those are checks, see verify.c). Issuers are computed once
 * per certificate, when the search first reaches it, and a caller's
 * struct pki_sig_memo keeps the verdicts for the checks and for
 * classifying the same certificates afterwards.
 *
 * A path ends at a self-signed certificate (complete) or at a certificate
 * with no issuer left to add (incomplete): none among the candidates, all
 * of them already in the path, or the depth limit reached. Candidates
 * equal to the leaf or to an earlier candidate (same DER) are dropped; of
 * duplicates the one with the lowest origin (upload before pool before
 * system) is kept. The ranking is a total order (ties are broken by the
 * certificates' SHA-256), so the output does not depend on input order.
 */
#include "pki/pki.h"
#include "pki/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHAIN_MAX_LEN   8  /* certificates in one path, leaf included */
#define CHAIN_MAX_PATHS 64 /* pki.h: more is ERR_TOO_LARGE */
/* Room for a certificate's name inside a message. */
#define LABEL_MAX 100

struct chain_node {
	const struct pki_candidate *cand;
	bool issuers_known;
	size_t *issuers; /* indexes into the node array */
	size_t nissuers;
};

struct chain_builder {
	struct pki_sig_memo *memo; /* may be NULL */
	struct chain_node *nodes;
	size_t nnodes;
	bool *in_path;
	size_t stack[CHAIN_MAX_LEN];
	size_t depth;
	struct pki_path *paths; /* CHAIN_MAX_PATHS entries */
	size_t npaths;
};

/* Same, for the issuer DN of c (the certificate that is missing). */
static void
issuer_label(const struct pki_cert *c, char *out, size_t size)
{
	struct pki_cert tmp;

	memset(&tmp, 0, sizeof(tmp));
	tmp.subject = c->issuer;
	pki_cert_label(&tmp, out, size);
}

/* ---- signature memo --------------------------------------------------- */

/* One pair asked about; child NULL: a free slot. */
struct memo_slot {
	const struct pki_cert *child;
	const struct pki_cert *parent;
	bool signed_by;
};

/* Open addressing, linear probing; at most half full. */
struct pki_sig_memo {
	struct memo_slot *slots;
	size_t cap; /* 0 or a power of two */
	size_t used;
};

#define MEMO_FIRST_CAP 8

int
pki_sig_memo_new(struct pki_sig_memo **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : ERR_NOMEM;
}

void
pki_sig_memo_free(struct pki_sig_memo *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

/* The slot of (child, parent), or the free slot where it would go. */
static struct memo_slot *
memo_slot(struct memo_slot *slots, size_t cap, const struct pki_cert *child,
          const struct pki_cert *parent)
{
	uint64_t h = (uint64_t)(uintptr_t)child * 0x9e3779b97f4a7c15u ^
	             (uint64_t)(uintptr_t)parent * 0xbf58476d1ce4e5b9u;
	size_t i;

	h ^= h >> 29;
	for (i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1)) {
		struct memo_slot *s = &slots[i];

		if (!s->child || (s->child == child && s->parent == parent))
			return s;
	}
}

static int
memo_grow(struct pki_sig_memo *m)
{
	size_t cap = m->cap ? m->cap * 2 : MEMO_FIRST_CAP;
	struct memo_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return ERR_NOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		const struct memo_slot *s = &m->slots[i];

		if (s->child)
			*memo_slot(slots, cap, s->child, s->parent) = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

bool
pki_sig_memo_signed_by(struct pki_sig_memo *m, const struct pki_cert *child,
                       const struct pki_cert *parent)
{
	struct memo_slot *s;
	bool ok;

	if (!m || !child || !parent)
		return pki_cert_is_signed_by(child, parent);
	/* pki_cert_is_signed_by()'s own first test, which costs nothing: the
	 * pairs it rejects are not worth a slot */
	if (!child->issuer_raw || !parent->subject_raw ||
	    child->issuer_raw_len != parent->subject_raw_len ||
	    memcmp(child->issuer_raw, parent->subject_raw,
	           child->issuer_raw_len) != 0)
		return false;
	if (m->cap > 0) {
		s = memo_slot(m->slots, m->cap, child, parent);
		if (s->child)
			return s->signed_by;
	}
	ok = pki_cert_is_signed_by(child, parent);
	/* without room the verdict is only not remembered */
	if ((m->used + 1) * 2 > m->cap && memo_grow(m) < 0)
		return ok;
	s = memo_slot(m->slots, m->cap, child, parent);
	*s = (struct memo_slot){ child, parent, ok };
	m->used++;
	return ok;
}

/* ---- search ----------------------------------------------------------- */

static void
builder_clear(struct chain_builder *b)
{
	if (b->nodes) {
		for (size_t i = 0; i < b->nnodes; i++)
			free(b->nodes[i].issuers);
	}
	free(b->nodes);
	free(b->in_path);
	pki_paths_free(b->paths, b->npaths);
}

/*
 * Node 0 is the leaf; then the candidates in order, without the leaf and
 * without duplicates (the lowest origin wins, then the first seen).
 */
static int
builder_add_nodes(struct chain_builder *b, const struct pki_candidate *leaf,
                  const struct pki_candidate *cands, size_t ncands)
{
	b->nodes = calloc(ncands + 1, sizeof(*b->nodes));
	b->in_path = calloc(ncands + 1, sizeof(*b->in_path));
	if (!b->nodes || !b->in_path)
		return ERR_NOMEM;
	b->nodes[0].cand = leaf;
	b->nnodes = 1;
	for (size_t i = 0; i < ncands; i++) {
		const struct pki_candidate *c = &cands[i];
		bool dup = false;

		if (!c->cert || !c->cert->der)
			continue;
		for (size_t j = 0; j < b->nnodes && !dup; j++) {
			struct chain_node *n = &b->nodes[j];

			if (strcmp(n->cand->cert->sha256, c->cert->sha256))
				continue;
			dup = true;
			if (j > 0 && c->origin < n->cand->origin)
				n->cand = c;
		}
		if (!dup)
			b->nodes[b->nnodes++].cand = c;
	}
	return 0;
}

static int
node_find_issuers(struct chain_builder *b, size_t idx)
{
	struct chain_node *n = &b->nodes[idx];
	const struct pki_cert *c = n->cand->cert;

	if (n->issuers_known)
		return 0;
	for (size_t j = 0; j < b->nnodes; j++) {
		const struct pki_cert *p = b->nodes[j].cand->cert;
		size_t *grown;

		if (j == idx || !pki_sig_memo_signed_by(b->memo, c, p))
			continue;
		grown = realloc(n->issuers, (n->nissuers + 1) * sizeof(*grown));
		if (!grown)
			return ERR_NOMEM;
		n->issuers = grown;
		n->issuers[n->nissuers++] = j;
	}
	n->issuers_known = true;
	return 0;
}

static int
builder_emit(struct chain_builder *b, bool complete)
{
	struct pki_path *p;

	if (b->npaths >= CHAIN_MAX_PATHS)
		return ERR_TOO_LARGE;
	p = &b->paths[b->npaths];
	memset(p, 0, sizeof(*p));
	p->certs = calloc(b->depth, sizeof(*p->certs));
	if (!p->certs)
		return ERR_NOMEM;
	for (size_t i = 0; i < b->depth; i++)
		p->certs[i] = b->nodes[b->stack[i]].cand;
	p->len = b->depth;
	p->complete = complete;
	b->npaths++;
	return 0;
}

/* Extends the path on the stack by every unused issuer of its top. */
static int
builder_visit(struct chain_builder *b)
{
	size_t top = b->stack[b->depth - 1];
	bool extended = false;
	int ret;

	if (b->nodes[top].cand->cert->self_signed)
		return builder_emit(b, true);
	if (b->depth < CHAIN_MAX_LEN) {
		ret = node_find_issuers(b, top);
		if (ret < 0)
			return ret;
		for (size_t k = 0; k < b->nodes[top].nissuers; k++) {
			size_t j = b->nodes[top].issuers[k];

			if (b->in_path[j])
				continue;
			extended = true;
			b->in_path[j] = true;
			b->stack[b->depth++] = j;
			ret = builder_visit(b);
			b->depth--;
			b->in_path[j] = false;
			if (ret < 0)
				return ret;
		}
	}
	return extended ? 0 : builder_emit(b, false);
}

/* ---- AMT root matching ------------------------------------------------ */

static bool
hex_eq(const char *entry, const char *ours)
{
	return !util_str_empty(entry) && strcasecmp(entry, ours) == 0;
}

/* The hash algorithm by which e matches c, or NULL. */
static const char *
root_match_alg(const struct pki_amt_root *e, const struct pki_cert *c)
{
	if (hex_eq(e->sha256, c->sha256))
		return "sha256";
	if (hex_eq(e->sha384, c->sha384))
		return "sha384";
	if (hex_eq(e->sha1, c->sha1))
		return "sha1";
	return NULL;
}

/* An enabled entry wins over a known-only one; then list order. */
static void
path_match_root(struct pki_path *p, const struct pki_amt_root *roots,
                size_t nroots)
{
	const struct pki_cert *root = p->certs[p->len - 1]->cert;

	if (!p->complete)
		return;
	p->root_sha1_signed = root->sig_sha1;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < nroots; i++) {
			const char *alg;

			if (roots[i].enabled != (pass == 0))
				continue;
			alg = root_match_alg(&roots[i], root);
			if (!alg)
				continue;
			p->amt_root = &roots[i];
			p->amt_hash_alg = alg;
			p->amt_trusted = roots[i].enabled;
			p->known_not_enabled = !roots[i].enabled;
			return;
		}
	}
}

/* ---- ranking ---------------------------------------------------------- */

/*
 * Why a ranks above or below b, as the first criterion that differs. The
 * criteria, best first: ends at an enabled AMT root; (prefer_sha2_root,
 * both trusted) its root is not SHA-1-signed; complete; ends at a root
 * the AMT list knows (not enabled); fewer certificates; the root expires
 * later; then the certificates' SHA-256 in order.
 */
enum rank_reason {
	RANK_EQUAL = 0,
	RANK_TRUSTED,
	RANK_SHA2_ROOT,
	RANK_COMPLETE,
	RANK_KNOWN,
	RANK_SHORTER,
	RANK_ROOT_LATER,
	RANK_FINGERPRINT,
};

/* < 0 when a ranks first; *why gets the deciding criterion. */
static int
path_compare(const struct pki_path *a, const struct pki_path *b,
             bool prefer_sha2_root, enum rank_reason *why)
{
	const struct pki_cert *ra = a->certs[a->len - 1]->cert;
	const struct pki_cert *rb = b->certs[b->len - 1]->cert;

	*why = RANK_TRUSTED;
	if (a->amt_trusted != b->amt_trusted)
		return a->amt_trusted ? -1 : 1;
	*why = RANK_SHA2_ROOT;
	if (prefer_sha2_root && a->amt_trusted &&
	    a->root_sha1_signed != b->root_sha1_signed)
		return a->root_sha1_signed ? 1 : -1;
	*why = RANK_COMPLETE;
	if (a->complete != b->complete)
		return a->complete ? -1 : 1;
	*why = RANK_KNOWN;
	if (a->known_not_enabled != b->known_not_enabled)
		return a->known_not_enabled ? -1 : 1;
	*why = RANK_SHORTER;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	*why = RANK_ROOT_LATER;
	if (ra->not_after != rb->not_after)
		return ra->not_after > rb->not_after ? -1 : 1;
	*why = RANK_FINGERPRINT;
	for (size_t i = 0; i < a->len; i++) {
		int c = strcmp(a->certs[i]->cert->sha256,
		               b->certs[i]->cert->sha256);
		if (c)
			return c;
	}
	*why = RANK_EQUAL;
	return 0;
}

/* Insertion sort: at most CHAIN_MAX_PATHS entries, and qsort has no
 * context argument for prefer_sha2_root. */
static void
paths_sort(struct pki_path *p, size_t n, bool prefer_sha2_root)
{
	enum rank_reason why;

	for (size_t i = 1; i < n; i++) {
		struct pki_path cur = p[i];
		size_t j = i;

		while (j > 0 && path_compare(&cur, &p[j - 1], prefer_sha2_root,
		                             &why) < 0) {
			p[j] = p[j - 1];
			j--;
		}
		p[j] = cur;
	}
}

/* ---- why not chosen --------------------------------------------------- */

/* "self-signed X, which is not in the AMT list" and the like. */
static char *
describe_end(const struct pki_path *p)
{
	const struct pki_cert *last = p->certs[p->len - 1]->cert;
	char name[LABEL_MAX], iss[LABEL_MAX];

	pki_cert_label(last, name, sizeof(name));
	if (!p->complete) {
		issuer_label(last, iss, sizeof(iss));
		return util_aprintf("is incomplete: it stops at %s, whose "
		                    "issuer %s is not among the certificates",
		                    name, iss);
	}
	if (p->amt_trusted)
		return util_aprintf(
		    "ends at %s, in the AMT list as \"%s\" (%s)", name,
		    p->amt_root->name ? p->amt_root->name : "(unnamed)",
		    p->amt_hash_alg);
	if (p->known_not_enabled)
		return util_aprintf(
		    "ends at %s, which is in the AMT list as "
		    "\"%s\" but not enabled",
		    name, p->amt_root->name ? p->amt_root->name : "(unnamed)");
	return util_aprintf("ends at self-signed %s, which is not in the AMT "
	                    "list",
	                    name);
}

/*
 * The chosen path in a few words: when it leaves the loser through a
 * certificate with the same subject and key as the loser's (a
 * cross-signed twin), it names that one.
 */
static char *
describe_chosen(const struct pki_path *chosen, const struct pki_path *loser)
{
	const struct pki_cert *last = chosen->certs[chosen->len - 1]->cert;
	char name[LABEL_MAX], twin[LABEL_MAX];
	const char *trust = "";
	size_t k = 0;

	pki_cert_label(last, name, sizeof(name));
	while (k < chosen->len && k < loser->len &&
	       chosen->certs[k]->cert == loser->certs[k]->cert)
		k++;
	if (chosen->amt_trusted)
		trust = ", which is in the AMT list";
	else if (chosen->known_not_enabled)
		trust = ", which the AMT list knows (not enabled)";
	if (!chosen->complete)
		return util_aprintf("the chosen path stops at %s", name);
	if (k > 0 && k < chosen->len - 1 && k < loser->len) {
		const struct pki_cert *a = chosen->certs[k]->cert;
		const struct pki_cert *b = loser->certs[k]->cert;

		if (a->subject_raw_len == b->subject_raw_len &&
		    memcmp(a->subject_raw, b->subject_raw,
		           a->subject_raw_len) == 0 &&
		    strcmp(a->spki_sha256, b->spki_sha256) == 0) {
			pki_cert_label(a, twin, sizeof(twin));
			return util_aprintf("the chosen path goes through the "
			                    "cross-signed %s to %s%s",
			                    twin, name, trust);
		}
	}
	return util_aprintf("the chosen path ends at %s%s", name, trust);
}

static char *
why_not_chosen(const struct pki_path *chosen, const struct pki_path *p,
               bool prefer_sha2_root)
{
	const struct pki_cert *root = p->certs[p->len - 1]->cert;
	const struct pki_cert *croot = chosen->certs[chosen->len - 1]->cert;
	char name[LABEL_MAX], date[32], cdate[32];
	char *reason = NULL, *rest = NULL, *out = NULL;
	enum rank_reason why;

	path_compare(chosen, p, prefer_sha2_root, &why);
	pki_cert_label(root, name, sizeof(name));
	switch (why) {
	case RANK_TRUSTED:
	case RANK_COMPLETE:
	case RANK_KNOWN:
		reason = describe_end(p);
		break;
	case RANK_SHA2_ROOT:
		reason = util_aprintf("ends at %s, which is signed with %s "
		                      "(AMT 16 and later refuse SHA-1 roots)",
		                      name, root->sig_algorithm);
		break;
	case RANK_SHORTER:
		reason = util_aprintf("is longer: %zu certificates against %zu",
		                      p->len, chosen->len);
		break;
	case RANK_ROOT_LATER:
		util_time_format(root->not_after, date, sizeof(date));
		util_time_format(croot->not_after, cdate, sizeof(cdate));
		reason = util_aprintf("ends at %s, which expires earlier (%s "
		                      "against %s)",
		                      name, date, cdate);
		break;
	default:
		reason = util_aprintf("ranks equal to the chosen one, which "
		                      "comes first by fingerprint");
		break;
	}
	rest = describe_chosen(chosen, p);
	if (reason && rest)
		out = util_aprintf("%s; %s", reason, rest);
	free(reason);
	free(rest);
	return out;
}

/* ---- API -------------------------------------------------------------- */

void
pki_paths_free(struct pki_path *paths, size_t n)
{
	if (!paths)
		return;
	for (size_t i = 0; i < n; i++) {
		free(paths[i].certs);
		free(paths[i].why_not_chosen);
	}
	free(paths);
}

int
pki_chain_build(const struct pki_candidate *leaf,
                const struct pki_candidate *cands, size_t ncands,
                const struct pki_amt_root *roots, size_t nroots,
                bool prefer_sha2_root, struct pki_path **paths, size_t *npaths)
{
	return pki_chain_build_memo(leaf, cands, ncands, roots, nroots,
	                            prefer_sha2_root, NULL, paths, npaths);
}

int
pki_chain_build_memo(const struct pki_candidate *leaf,
                     const struct pki_candidate *cands, size_t ncands,
                     const struct pki_amt_root *roots, size_t nroots,
                     bool prefer_sha2_root, struct pki_sig_memo *memo,
                     struct pki_path **paths, size_t *npaths)
{
	struct chain_builder b;
	int ret;

	if (!leaf || !leaf->cert || !leaf->cert->der || (ncands && !cands) ||
	    (nroots && !roots) || !paths || !npaths)
		return ERR_INVALID;
	memset(&b, 0, sizeof(b));
	b.memo = memo;
	b.paths = calloc(CHAIN_MAX_PATHS, sizeof(*b.paths));
	if (!b.paths) {
		ret = ERR_NOMEM;
		goto cleanup;
	}
	ret = builder_add_nodes(&b, leaf, cands, ncands);
	if (ret < 0)
		goto cleanup;
	b.in_path[0] = true;
	b.stack[0] = 0;
	b.depth = 1;
	ret = builder_visit(&b);
	if (ret < 0) {
		if (ret == ERR_TOO_LARGE)
			log_debug("pki: chain_build: more than %d paths",
			          CHAIN_MAX_PATHS);
		goto cleanup;
	}

	for (size_t i = 0; i < b.npaths; i++)
		path_match_root(&b.paths[i], roots, nroots);
	paths_sort(b.paths, b.npaths, prefer_sha2_root);
	for (size_t i = 1; i < b.npaths; i++) {
		b.paths[i].why_not_chosen =
		    why_not_chosen(&b.paths[0], &b.paths[i], prefer_sha2_root);
		if (!b.paths[i].why_not_chosen) {
			ret = ERR_NOMEM;
			goto cleanup;
		}
	}
	*paths = b.paths;
	*npaths = b.npaths;
	b.paths = NULL;
	b.npaths = 0;
	ret = 0;
cleanup:
	builder_clear(&b);
	return ret;
}
