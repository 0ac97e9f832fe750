/*
 * verify.c: the Intel AMT checks on one chain (amt-facts.md sections 1, 2
 * and 4).
 *
 * Every check gets a stable id, a status and a one-line message that names
 * the certificate concerned; a warning or failure also says what to do.
 * Certificate names come from untrusted input: they are cut to a bounded
 * length and control characters are replaced, so a message stays one
 * line. The checks only read the path: a path built by pki_chain_build()
 * or by hand (e.g. the certificates an order was delivered with) is judged
 * the same way, signatures included (with opts->memo, a signature the
 * chain building verified already is not verified again).
 */
#include "pki/pki.h"
#include "pki/internal.h"

#include "common/err.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Room for a name (CN, suffix) inside a message. */
#define LABEL_MAX 100
/* RPS certManager.ts handles at most this many certificates. */
#define RPS_MAX_CHAIN 4
#define MIN_RSA_BITS  2048
/* CSME 16 (AMT 16) refuses any SHA-1 certificate in the chain. */
#define AMT_NO_SHA1_ROOT 16

typedef int (*check_fn)(const struct pki_path *p,
                        const struct pki_verify_opts *o, struct pki_check *c);

static const struct pki_cert *
path_cert(const struct pki_path *p, size_t i)
{
	return p->certs[i]->cert;
}

/* "leaf", "intermediate" or "root" (the self-signed end of a complete
 * path longer than one). */
static const char *
role(const struct pki_path *p, size_t i)
{
	if (i == 0)
		return "leaf";
	if (p->complete && i == p->len - 1)
		return "root";
	return "intermediate";
}

/*
 * Fills c, taking ownership of msg and fix. A warning or failure needs
 * both; pass and skipped drop the fix. ERR_NOMEM when a string is missing.
 */
static int
check_set(struct pki_check *c, enum pki_status st, char *msg, char *fix)
{
	bool need_fix = st == PKI_WARN || st == PKI_FAIL;

	if (!msg || (need_fix && !fix)) {
		free(msg);
		free(fix);
		return ERR_NOMEM;
	}
	if (!need_fix) {
		free(fix);
		fix = NULL;
	}
	c->status = st;
	c->message = msg;
	c->fix = fix;
	return 0;
}

/* " (and 2 more)" or "". */
static void
more_text(size_t n, char *out, size_t size)
{
	if (n > 0)
		snprintf(out, size, " (and %zu more)", n);
	else
		out[0] = '\0';
}

/* ---- the checks ------------------------------------------------------- */

static int
check_key_match(const struct pki_path *p, const struct pki_verify_opts *o,
                struct pki_check *c)
{
	const struct pki_cert *leaf = path_cert(p, 0);
	char want[LABEL_MAX];

	if (util_str_empty(o->expected_spki))
		return check_set(c, PKI_SKIPPED,
		                 util_aprintf("no order key to compare with"),
		                 NULL);
	if (strcasecmp(leaf->spki_sha256, o->expected_spki) == 0)
		return check_set(
		    c, PKI_PASS,
		    util_aprintf("the leaf's public key is the "
		                 "order's key (SPKI SHA-256 %.16s...)",
		                 leaf->spki_sha256),
		    NULL);
	pki_text_label(o->expected_spki, want, 20);
	return check_set(
	    c, PKI_FAIL,
	    util_aprintf("the leaf's public key (SPKI SHA-256 %.16s...) is not "
	                 "the order's key (%s)",
	                 leaf->spki_sha256, want),
	    util_aprintf(
	        "upload the certificate the CA issued for this order's "
	        "CSR: a certificate for another key cannot be paired "
	        "with this order's private key"));
}

static int
check_chain_complete(const struct pki_path *p, const struct pki_verify_opts *o,
                     struct pki_check *c)
{
	const struct pki_cert *last = path_cert(p, p->len - 1);
	char name[LABEL_MAX], iss[LABEL_MAX];

	(void)o;
	pki_cert_label(last, name, sizeof(name));
	if (p->complete)
		return check_set(
		    c, PKI_PASS,
		    util_aprintf("the chain ends at self-signed %s "
		                 "(%zu certificates)",
		                 name, p->len),
		    NULL);
	pki_text_label(util_str_empty(last->issuer) ? "(empty name)"
	                                            : last->issuer,
	               iss, sizeof(iss));
	return check_set(
	    c, PKI_FAIL,
	    util_aprintf("the chain stops at %s: its issuer %s is missing",
	                 name, iss),
	    util_aprintf(
	        "add the intermediate and root certificates the CA "
	        "sent (the next one is %s) to the upload or the CA pool",
	        iss));
}

static int
check_signatures(const struct pki_path *p, const struct pki_verify_opts *o,
                 struct pki_check *c)
{
	const struct pki_cert *last = path_cert(p, p->len - 1);
	char a[LABEL_MAX], b[LABEL_MAX];
	size_t n = p->len - 1;

	for (size_t i = 0; i + 1 < p->len; i++) {
		const struct pki_cert *child = path_cert(p, i);
		const struct pki_cert *parent = path_cert(p, i + 1);

		if (pki_sig_memo_signed_by(o->memo, child, parent))
			continue;
		pki_cert_label(child, a, sizeof(a));
		pki_cert_label(parent, b, sizeof(b));
		return check_set(
		    c, PKI_FAIL,
		    util_aprintf("%s %s is not signed by %s %s", role(p, i), a,
		                 role(p, i + 1), b),
		    util_aprintf(
		        "replace %s with the certificate that issued %s "
		        "(get it from the CA)",
		        b, a));
	}
	if (p->complete) {
		n++;
		if (!last->self_signed) {
			pki_cert_label(last, a, sizeof(a));
			return check_set(
			    c, PKI_FAIL,
			    util_aprintf("the self-signature of %s does not "
			                 "verify",
			                 a),
			    util_aprintf(
			        "get the genuine root certificate from "
			        "the CA or the operating system's trust "
			        "store"));
		}
	}
	if (n == 0)
		return check_set(
		    c, PKI_SKIPPED,
		    util_aprintf("the chain has no issuer to verify "
		                 "the leaf with"),
		    NULL);
	return check_set(
	    c, PKI_PASS,
	    util_aprintf("%zu signature%s verif%s (hash algorithms "
	                 "are judged by the sha1 check)",
	                 n, n == 1 ? "" : "s", n == 1 ? "ies" : "y"),
	    NULL);
}

static int
check_validity(const struct pki_path *p, const struct pki_verify_opts *o,
               struct pki_check *c)
{
	char name[LABEL_MAX], date[32], at[32], more[48];
	size_t bad = 0, first = 0, soonest = 0;
	bool expired = false;

	if (o->at == 0)
		return check_set(
		    c, PKI_SKIPPED,
		    util_aprintf("no time to evaluate validity at"), NULL);
	for (size_t i = 0; i < p->len; i++) {
		const struct pki_cert *x = path_cert(p, i);
		bool late = o->at > x->not_after;

		if (x->not_after < path_cert(p, soonest)->not_after)
			soonest = i;
		if (o->at >= x->not_before && !late)
			continue;
		if (bad++ == 0) {
			first = i;
			expired = late;
		}
	}
	util_time_format(o->at, at, sizeof(at));
	if (bad == 0) {
		pki_cert_label(path_cert(p, soonest), name, sizeof(name));
		util_time_format(path_cert(p, soonest)->not_after, date,
		                 sizeof(date));
		return check_set(
		    c, PKI_PASS,
		    util_aprintf("all %zu certificates are valid at "
		                 "%s; the first to expire is %s %s "
		                 "on %s",
		                 p->len, at, role(p, soonest), name, date),
		    NULL);
	}
	pki_cert_label(path_cert(p, first), name, sizeof(name));
	more_text(bad - 1, more, sizeof(more));
	if (expired) {
		util_time_format(path_cert(p, first)->not_after, date,
		                 sizeof(date));
		return check_set(
		    c, PKI_FAIL,
		    util_aprintf("%s %s expired on %s%s", role(p, first), name,
		                 date, more),
		    first == 0
		        ? util_aprintf("renew the certificate: a new CSR and a "
		                       "new order with the CA")
		        : util_aprintf(
		              "get the current %s certificate from the "
		              "CA: every certificate of the chain must "
		              "be valid (RPS checks all of them)",
		              role(p, first)));
	}
	util_time_format(path_cert(p, first)->not_before, date, sizeof(date));
	return check_set(
	    c, PKI_FAIL,
	    util_aprintf("%s %s is not valid before %s (evaluated at %s)%s",
	                 role(p, first), name, date, at, more),
	    util_aprintf(
	        "wait until %s, or check the clocks of this server and "
	        "of the AMT devices",
	        date));
}

static int
check_issuer_ca(const struct pki_path *p, const struct pki_verify_opts *o,
                struct pki_check *c)
{
	char name[LABEL_MAX];
	char *msg = NULL;

	(void)o;
	if (p->len < 2)
		return check_set(c, PKI_SKIPPED,
		                 util_aprintf("the chain has no issuer"), NULL);
	for (size_t i = 1; i < p->len && !msg; i++) {
		const struct pki_cert *x = path_cert(p, i);
		size_t below = 0;

		/* pathLenConstraint counts the non-self-issued
		 * intermediates under the issuer (RFC 5280 4.2.1.9). */
		for (size_t j = 1; j < i; j++)
			below += path_cert(p, j)->self_issued ? 0 : 1;
		pki_cert_label(x, name, sizeof(name));
		if (!x->has_basic_constraints)
			msg =
			    util_aprintf("%s %s has no basicConstraints, so it "
			                 "is not a CA",
			                 role(p, i), name);
		else if (!x->is_ca)
			msg =
			    util_aprintf("%s %s is not a CA (basicConstraints "
			                 "CA:FALSE)",
			                 role(p, i), name);
		else if (x->has_key_usage && !x->ku_cert_sign)
			msg = util_aprintf("%s %s has a keyUsage without "
			                   "keyCertSign",
			                   role(p, i), name);
		else if (x->path_len >= 0 && below > (size_t)x->path_len)
			msg =
			    util_aprintf("%s %s allows %d CA certificates "
			                 "below it, the chain has %zu",
			                 role(p, i), name, x->path_len, below);
		else
			continue;
		return check_set(
		    c, PKI_FAIL, msg,
		    util_aprintf(
		        "get the right %s certificate from the CA: an "
		        "issuer needs basicConstraints CA:TRUE and, when "
		        "it has keyUsage, keyCertSign",
		        role(p, i)));
	}
	return check_set(c, PKI_PASS,
	                 util_aprintf("%s CAs allowed to sign certificates",
	                              p->len == 2
	                                  ? "the issuer is one of the"
	                                  : "every issuer is one of the"),
	                 NULL);
}

static int
check_eku_server_auth(const struct pki_path *p, const struct pki_verify_opts *o,
                      struct pki_check *c)
{
	const struct pki_cert *leaf = path_cert(p, 0);
	const char *fix =
	    "order an AMT provisioning certificate: a TLS server "
	    "certificate with serverAuth and the AMT OID " PKI_OID_AMT;

	(void)o;
	if (leaf->eku_server_auth)
		return check_set(c, PKI_PASS,
		                 util_aprintf("the leaf's extendedKeyUsage has "
		                              "serverAuth"),
		                 NULL);
	if (!leaf->has_eku)
		return check_set(
		    c, PKI_FAIL,
		    util_aprintf("the leaf has no extendedKeyUsage; "
		                 "AMT needs serverAuth "
		                 "(" PKI_OID_SERVERAUTH ")"),
		    util_aprintf("%s", fix));
	return check_set(
	    c, PKI_FAIL,
	    util_aprintf("the leaf's extendedKeyUsage lacks serverAuth "
	                 "(" PKI_OID_SERVERAUTH ")%s",
	                 leaf->eku_any ? "; anyExtendedKeyUsage does not "
	                                 "stand in for it"
	                               : ""),
	    util_aprintf("%s", fix));
}

static int
check_amt_oid(const struct pki_path *p, const struct pki_verify_opts *o,
              struct pki_check *c)
{
	const struct pki_cert *leaf = path_cert(p, 0);

	(void)o;
	if (leaf->eku_amt)
		return check_set(
		    c, PKI_PASS,
		    util_aprintf("the leaf has the AMT provisioning "
		                 "OID " PKI_OID_AMT),
		    NULL);
	if (leaf->has_amt_ou)
		return check_set(
		    c, PKI_WARN,
		    util_aprintf("the leaf has only the OU \"" PKI_AMT_OU "\", "
		                 "not the AMT OID " PKI_OID_AMT ": AMT and "
		                 "MeshCentral accept it, Open AMT RPS "
		                 "(amtOidChecker) rejects it"),
		    util_aprintf(
		        "if you use Open AMT / Device Management "
		        "Toolkit RPS, order a certificate with the AMT "
		        "OID " PKI_OID_AMT " in extendedKeyUsage"));
	return check_set(
	    c, PKI_FAIL,
	    util_aprintf("the leaf has neither the AMT OID " PKI_OID_AMT
	                 " in extendedKeyUsage nor the OU \"" PKI_AMT_OU "\""),
	    util_aprintf("order an Intel AMT provisioning certificate (e.g. "
	                 "Sectigo's \"AMT SSL Certificate\"): it carries the "
	                 "AMT OID"));
}

static bool
key_is_rsa(const struct pki_cert *x)
{
	return x->key_algorithm && (strcmp(x->key_algorithm, "rsa") == 0 ||
	                            strcmp(x->key_algorithm, "rsa-pss") == 0);
}

static int
check_leaf_key_type(const struct pki_path *p, const struct pki_verify_opts *o,
                    struct pki_check *c)
{
	const struct pki_cert *leaf = path_cert(p, 0);
	char alg[LABEL_MAX];

	(void)o;
	if (leaf->key_algorithm && strcmp(leaf->key_algorithm, "rsa") == 0)
		return check_set(c, PKI_PASS,
		                 util_aprintf("the leaf key is RSA (%u bits)",
		                              leaf->key_bits),
		                 NULL);
	pki_text_label(leaf->key_algorithm ? leaf->key_algorithm : "unknown",
	               alg, sizeof(alg));
	return check_set(
	    c, PKI_FAIL,
	    util_aprintf("the leaf key is %s, not RSA: node-forge (Open AMT "
	                 "RPS, MeshCentral) drops such a certificate silently",
	                 alg),
	    util_aprintf("order the certificate again from a CSR with an RSA "
	                 "key of 2048 bits or more"));
}

static int
check_rsa_size(const struct pki_path *p, const struct pki_verify_opts *o,
               struct pki_check *c)
{
	char name[LABEL_MAX], more[48];
	size_t nrsa = 0, bad = 0, first = 0;
	unsigned smallest = 0;

	(void)o;
	for (size_t i = 0; i < p->len; i++) {
		const struct pki_cert *x = path_cert(p, i);

		if (!key_is_rsa(x))
			continue;
		if (nrsa++ == 0 || x->key_bits < smallest)
			smallest = x->key_bits;
		if (x->key_bits < MIN_RSA_BITS && bad++ == 0)
			first = i;
	}
	if (nrsa == 0)
		return check_set(c, PKI_SKIPPED,
		                 util_aprintf("no RSA key in the chain"), NULL);
	if (bad == 0)
		return check_set(
		    c, PKI_PASS,
		    util_aprintf("every RSA key of the chain has at "
		                 "least %d bits (smallest: %u)",
		                 MIN_RSA_BITS, smallest),
		    NULL);
	pki_cert_label(path_cert(p, first), name, sizeof(name));
	more_text(bad - 1, more, sizeof(more));
	return check_set(
	    c, PKI_FAIL,
	    util_aprintf("%s %s has a %u-bit RSA key%s: RPS and CSME 16 and "
	                 "later refuse keys below %d bits",
	                 role(p, first), name, path_cert(p, first)->key_bits,
	                 more, MIN_RSA_BITS),
	    util_aprintf("every certificate of the chain needs an RSA key of "
	                 "at least %d bits: replace %s",
	                 MIN_RSA_BITS, name));
}

/* "AMT 12-16", "AMT 16 and later", "up to AMT 15" or "". */
static void
amt_range_text(const struct pki_verify_opts *o, char *out, size_t size)
{
	if (o->amt_min && o->amt_max)
		snprintf(out, size, "AMT %u-%u", o->amt_min, o->amt_max);
	else if (o->amt_min)
		snprintf(out, size, "AMT %u and later", o->amt_min);
	else if (o->amt_max)
		snprintf(out, size, "up to AMT %u", o->amt_max);
	else
		out[0] = '\0';
}

static int
check_sha1(const struct pki_path *p, const struct pki_verify_opts *o,
           struct pki_check *c)
{
	char name[LABEL_MAX], alg[LABEL_MAX], range[48], more[48];
	size_t bad = 0, first = 0;
	const struct pki_cert *root = NULL;
	bool strict =
	    o->amt_max >= AMT_NO_SHA1_ROOT || o->amt_min >= AMT_NO_SHA1_ROOT;

	for (size_t i = 0; i < p->len; i++) {
		const struct pki_cert *x = path_cert(p, i);

		if (!x->sig_sha1)
			continue;
		if (strcmp(role(p, i), "root") == 0)
			root = x;
		else if (bad++ == 0)
			first = i;
	}
	if (bad > 0) {
		const struct pki_cert *x = path_cert(p, first);

		pki_cert_label(x, name, sizeof(name));
		pki_text_label(x->sig_algorithm ? x->sig_algorithm : "unknown",
		               alg, sizeof(alg));
		more_text(bad - 1, more, sizeof(more));
		return check_set(
		    c, PKI_FAIL,
		    util_aprintf("%s %s is signed with %s (SHA-1 or weaker)%s",
		                 role(p, first), name, alg, more),
		    util_aprintf("have the CA reissue %s signed with SHA-256",
		                 name));
	}
	if (!root)
		return check_set(
		    c, PKI_PASS,
		    util_aprintf("no certificate is signed with SHA-1 "
		                 "or MD5"),
		    NULL);
	pki_cert_label(root, name, sizeof(name));
	pki_text_label(root->sig_algorithm ? root->sig_algorithm : "unknown",
	               alg, sizeof(alg));
	amt_range_text(o, range, sizeof(range));
	if (strict)
		return check_set(
		    c, PKI_FAIL,
		    util_aprintf(
		        "root %s is self-signed with %s, and AMT 16 and "
		        "later (CSME 16) refuse a chain that ends at a "
		        "SHA-1 root (AMT versions in scope: %s)",
		        name, alg, range),
		    util_aprintf(
		        "use a chain that ends at a SHA-256-signed root "
		        "in the AMT list (ask the CA which one; for "
		        "DigiCert: DigiCert Global Root G2)"));
	return check_set(
	    c, PKI_WARN,
	    util_aprintf(
	        "root %s is self-signed with %s: AMT 15 and earlier "
	        "accept it, AMT 16 and later (CSME 16) refuse it%s%s%s",
	        name, alg, range[0] ? " (AMT versions in scope: " : "", range,
	        range[0] ? ")" : ""),
	    util_aprintf("if any device runs AMT 16 or later, use a chain that "
	                 "ends at a SHA-256-signed root in the AMT list; say "
	                 "which AMT versions the order serves to decide"));
}

static int
check_root_trusted(const struct pki_path *p, const struct pki_verify_opts *o,
                   struct pki_check *c)
{
	const struct pki_cert *root = path_cert(p, p->len - 1);
	char name[LABEL_MAX], entry[LABEL_MAX];

	(void)o;
	pki_cert_label(root, name, sizeof(name));
	if (p->amt_root)
		pki_text_label(p->amt_root->name ? p->amt_root->name
		                                 : "(unnamed)",
		               entry, sizeof(entry));
	if (p->amt_trusted && p->amt_root)
		return check_set(
		    c, PKI_PASS,
		    util_aprintf("root %s is in the AMT list as "
		                 "\"%s\" (matched by %s)",
		                 name, entry,
		                 p->amt_hash_alg ? p->amt_hash_alg : "hash"),
		    NULL);
	if (p->known_not_enabled && p->amt_root)
		return check_set(
		    c, PKI_FAIL,
		    util_aprintf("root %s matches the AMT list entry \"%s\", "
		                 "which is not enabled",
		                 name, entry),
		    util_aprintf("enable \"%s\" in the AMT root list if your "
		                 "devices trust it (rpc amtinfo -cert or "
		                 "MeshCentral show a device's hashes)",
		                 entry));
	if (!p->complete)
		return check_set(
		    c, PKI_FAIL,
		    util_aprintf("the chain has no root, so AMT has no hash to "
		                 "match"),
		    util_aprintf(
		        "add the root certificate: AMT trusts a chain by "
		        "the hash of its root, which the PFX must "
		        "contain"));
	return check_set(
	    c, PKI_FAIL,
	    util_aprintf("root %s (SHA-256 %s) is not in the AMT list", name,
	                 root->sha256),
	    util_aprintf(
	        "use a CA whose root is in the AMT devices' hash list, "
	        "or add this root's hash to the devices (MEBx or USB "
	        "custom hash) and to the AMT list here"));
}

static int
check_suffix_intel(const struct pki_path *p, const struct pki_verify_opts *o,
                   struct pki_check *c)
{
	const struct pki_cert *leaf = path_cert(p, 0);
	char name[LABEL_MAX], suffix[LABEL_MAX];

	if (util_str_empty(o->dns_suffix))
		return check_set(c, PKI_SKIPPED,
		                 util_aprintf("no DNS suffix given"), NULL);
	pki_text_label(o->dns_suffix, suffix, sizeof(suffix));
	if (leaf->common_name &&
	    pki_suffix_matches_intel(leaf->common_name, o->dns_suffix)) {
		pki_text_label(leaf->common_name, name, sizeof(name));
		return check_set(c, PKI_PASS,
		                 util_aprintf("the CN \"%s\" matches the DNS "
		                              "suffix \"%s\" (Intel's rule)",
		                              name, suffix),
		                 NULL);
	}
	for (size_t i = 0; i < leaf->dns_count; i++) {
		if (!pki_suffix_matches_intel(leaf->dns_names[i],
		                              o->dns_suffix))
			continue;
		pki_text_label(leaf->dns_names[i], name, sizeof(name));
		return check_set(
		    c, PKI_PASS,
		    util_aprintf("the dNSName \"%s\" matches the DNS "
		                 "suffix \"%s\" (Intel's rule)",
		                 name, suffix),
		    NULL);
	}
	pki_text_label(leaf->common_name ? leaf->common_name : "(none)", name,
	               sizeof(name));
	return check_set(
	    c, PKI_FAIL,
	    util_aprintf("neither the CN \"%s\" nor any dNSName (%zu) "
	                 "matches the DNS suffix \"%s\" (Intel's rule: the "
	                 "suffix on a label boundary, or the same last labels "
	                 "for .com, .net and other listed TLDs)",
	                 name, leaf->dns_count, suffix),
	    util_aprintf(
	        "get a certificate for a name under \"%s\", or set the "
	        "devices' PKI DNS suffix (MEBx, or DHCP option 15) to "
	        "the domain of the certificate's name",
	        suffix));
}

/*
 * Open AMT RPS (domainSuffixChecker) reads the CN only and compares its
 * last two labels with the suffix's, case-sensitively. Only RPS users are
 * affected, so a mismatch is a warning, like the OU-only case of amt_oid.
 */
static int
check_suffix_rps(const struct pki_path *p, const struct pki_verify_opts *o,
                 struct pki_check *c)
{
	const struct pki_cert *leaf = path_cert(p, 0);
	char name[LABEL_MAX], suffix[LABEL_MAX];

	if (util_str_empty(o->dns_suffix))
		return check_set(c, PKI_SKIPPED,
		                 util_aprintf("no DNS suffix given"), NULL);
	pki_text_label(o->dns_suffix, suffix, sizeof(suffix));
	if (util_str_empty(leaf->common_name))
		return check_set(
		    c, PKI_WARN,
		    util_aprintf(
		        "the leaf has no CN, and Open AMT RPS compares "
		        "only the CN with the DNS suffix"),
		    util_aprintf("if you use RPS, order a certificate whose CN "
		                 "is a name under \"%s\"",
		                 suffix));
	pki_text_label(leaf->common_name, name, sizeof(name));
	if (pki_suffix_matches_rps(leaf->common_name, o->dns_suffix))
		return check_set(
		    c, PKI_PASS,
		    util_aprintf("Open AMT RPS will accept it: the CN "
		                 "\"%s\" ends with the same two "
		                 "labels as \"%s\"",
		                 name, suffix),
		    NULL);
	return check_set(
	    c, PKI_WARN,
	    util_aprintf(
	        "Open AMT RPS will refuse it: it compares only the last "
	        "two labels of the CN \"%s\" with those of \"%s\" "
	        "(case-sensitive), and they differ",
	        name, suffix),
	    util_aprintf(
	        "if you use RPS, get a certificate whose CN ends with "
	        "the last two labels of \"%s\" (same case), or set the "
	        "RPS domain suffix to the CN's domain",
	        suffix));
}

static int
check_chain_length(const struct pki_path *p, const struct pki_verify_opts *o,
                   struct pki_check *c)
{
	(void)o;
	if (p->len <= RPS_MAX_CHAIN)
		return check_set(
		    c, PKI_PASS,
		    util_aprintf("%zu certificates, within Open AMT "
		                 "RPS's limit of %d",
		                 p->len, RPS_MAX_CHAIN),
		    NULL);
	return check_set(
	    c, PKI_FAIL,
	    util_aprintf("the chain has %zu certificates; Open AMT RPS "
	                 "(certManager.ts) handles at most %d, leaf and root "
	                 "included",
	                 p->len, RPS_MAX_CHAIN),
	    util_aprintf("use a shorter chain: ask the CA for a path with "
	                 "fewer intermediates"));
}

static const struct {
	const char *id;
	check_fn run;
} checks[] = {
	{ "key_match", check_key_match },
	{ "chain_complete", check_chain_complete },
	{ "signatures", check_signatures },
	{ "validity", check_validity },
	{ "issuer_ca", check_issuer_ca },
	{ "eku_server_auth", check_eku_server_auth },
	{ "amt_oid", check_amt_oid },
	{ "leaf_key_type", check_leaf_key_type },
	{ "rsa_size", check_rsa_size },
	{ "sha1", check_sha1 },
	{ "root_trusted", check_root_trusted },
	{ "suffix_intel", check_suffix_intel },
	{ "suffix_rps", check_suffix_rps },
	{ "chain_length", check_chain_length },
};

#define NCHECKS (sizeof(checks) / sizeof(checks[0]))

/* ---- API -------------------------------------------------------------- */

const char *
pki_status_name(enum pki_status s)
{
	switch (s) {
	case PKI_PASS:
		return "pass";
	case PKI_WARN:
		return "warn";
	case PKI_FAIL:
		return "fail";
	case PKI_SKIPPED:
		return "skipped";
	default:
		return "unknown";
	}
}

void
pki_report_free(struct pki_report *r)
{
	if (!r)
		return;
	if (r->checks) {
		for (size_t i = 0; i < r->count; i++) {
			free(r->checks[i].message);
			free(r->checks[i].fix);
		}
		free(r->checks);
	}
	free(r);
}

static bool
path_is_usable(const struct pki_path *p)
{
	if (!p || !p->certs || p->len == 0)
		return false;
	for (size_t i = 0; i < p->len; i++) {
		if (!p->certs[i] || !p->certs[i]->cert)
			return false;
	}
	return true;
}

int
pki_verify_path(const struct pki_path *path, const struct pki_verify_opts *opts,
                struct pki_report **out)
{
	struct pki_report *r;
	int ret;

	if (!path_is_usable(path) || !opts || !out)
		return ERR_INVALID;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ERR_NOMEM;
	r->checks = calloc(NCHECKS, sizeof(*r->checks));
	if (!r->checks) {
		free(r);
		return ERR_NOMEM;
	}
	r->overall = PKI_PASS;
	for (size_t i = 0; i < NCHECKS; i++) {
		struct pki_check *c = &r->checks[i];

		c->id = checks[i].id;
		ret = checks[i].run(path, opts, c);
		if (ret < 0) {
			r->count = i;
			pki_report_free(r);
			return ret;
		}
		r->count = i + 1;
		if (c->status != PKI_SKIPPED && c->status > r->overall)
			r->overall = c->status;
	}
	*out = r;
	return 0;
}
