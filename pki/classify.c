/*
 * classify.c: what each certificate of a CA's delivery is (design.md
 * section 5), with a reason a person can read.
 */
#include "pki/pki.h"

#include "common/err.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CERTS 256

const char *
pki_role_name(enum pki_role r)
{
	switch (r) {
	case PKI_ROLE_LEAF:
		return "leaf";
	case PKI_ROLE_INTERMEDIATE:
		return "intermediate";
	case PKI_ROLE_ROOT:
		return "root";
	case PKI_ROLE_CROSS_SIGNED:
		return "cross-signed";
	default:
		return "unrelated";
	}
}

static bool
same_name(const struct pki_cert *a, const struct pki_cert *b)
{
	return a->subject_raw_len == b->subject_raw_len &&
	       memcmp(a->subject_raw, b->subject_raw, a->subject_raw_len) == 0;
}

static bool
is_ca(const struct pki_cert *c)
{
	return c->is_ca || c->self_signed;
}

/* The certificate at index i of the joined list certs ++ context. */
static const struct pki_cert *
at(const struct pki_cert *const *certs, size_t n,
   const struct pki_cert *const *context, size_t i)
{
	return i < n ? certs[i] : context[i - n];
}

int
pki_classify(const struct pki_cert *const *certs, size_t n, long leaf,
             const struct pki_cert *const *context, size_t ncontext,
             enum pki_role *roles, char **reasons)
{
	return pki_classify_memo(certs, n, leaf, context, ncontext, NULL, roles,
	                         reasons);
}

int
pki_classify_memo(const struct pki_cert *const *certs, size_t n, long leaf,
                  const struct pki_cert *const *context, size_t ncontext,
                  struct pki_sig_memo *memo, enum pki_role *roles,
                  char **reasons)
{
	size_t total = n + ncontext;
	bool *up; /* ancestors of the leaf, over certs ++ context */
	size_t *queue, qh = 0, qt = 0;
	int ret = 0;

	if (total > MAX_CERTS)
		return ERR_TOO_LARGE;
	up = calloc(total ? total : 1, sizeof(*up));
	queue = calloc(total ? total : 1, sizeof(*queue));
	if (!up || !queue) {
		free(up);
		free(queue);
		return ERR_NOMEM;
	}
	if (leaf >= 0 && (size_t)leaf < n) {
		queue[qt++] = (size_t)leaf;
		up[leaf] = true;
	}
	while (qh < qt) {
		const struct pki_cert *child =
		    at(certs, n, context, queue[qh++]);

		for (size_t k = 0; k < total; k++) {
			const struct pki_cert *p = at(certs, n, context, k);

			if (up[k] || p == child ||
			    !pki_sig_memo_signed_by(memo, child, p))
				continue;
			up[k] = true;
			queue[qt++] = k;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct pki_cert *c = certs[i];
		const char *subj = c->common_name ? c->common_name : c->subject;

		reasons[i] = NULL;
		if ((long)i == leaf) {
			roles[i] = PKI_ROLE_LEAF;
			reasons[i] =
			    util_aprintf("the certificate for this key "
			                 "(%s)",
			                 subj);
		} else if (!is_ca(c)) {
			roles[i] = PKI_ROLE_UNRELATED;
			reasons[i] = util_aprintf(
			    "an end-entity certificate (%s) for another "
			    "key: not the leaf and no issuer",
			    subj);
		} else if (leaf >= 0 && !up[i]) {
			roles[i] = PKI_ROLE_UNRELATED;
			reasons[i] =
			    util_aprintf("a CA certificate (%s) that "
			                 "issues nothing on the leaf's "
			                 "way up",
			                 subj);
		} else if (c->self_signed) {
			roles[i] = PKI_ROLE_ROOT;
			reasons[i] =
			    util_aprintf("self-signed root (%s)", subj);
		} else {
			const struct pki_cert *twin = NULL;

			for (size_t k = 0; k < total && !twin; k++) {
				const struct pki_cert *o =
				    at(certs, n, context, k);
				if (o != c && o->self_signed &&
				    same_name(o, c) &&
				    strcmp(o->spki_sha256, c->spki_sha256) == 0)
					twin = o;
			}
			if (twin) {
				roles[i] = PKI_ROLE_CROSS_SIGNED;
				reasons[i] = util_aprintf(
				    "same subject and key as the "
				    "self-signed %s, but issued by %s",
				    subj, c->issuer);
			} else {
				roles[i] = PKI_ROLE_INTERMEDIATE;
				reasons[i] =
				    util_aprintf("CA certificate issued by "
				                 "%s",
				                 c->issuer);
			}
		}
		if (!reasons[i]) {
			ret = ERR_NOMEM;
			break;
		}
	}
	if (ret < 0) {
		for (size_t i = 0; i < n; i++) {
			free(reasons[i]);
			reasons[i] = NULL;
		}
	}
	free(up);
	free(queue);
	return ret;
}
