/*
 * verify.c: chains and the AMT checks for an order (stored, with the state
 * move) or for loose material (core_chain_evaluate only).
 *
 * A chain that does not reach an enabled AMT root with what was delivered,
 * the CA pool and the system store is tried once more with the built-in
 * cross-certificates of data/bridges/ (amt-facts.md section 8); the report
 * says when one completed it. When none does, the root_trusted check's fix
 * names, in order, a known bridge that would help (built in or not), the
 * AMT-list roots this hierarchy reaches, and only then enabling a root,
 * with the evidence behind that entry.
 */
#include "core/internal.h"

#include "common/embedded.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CANDIDATES 512

/* Reads the built-in cross-certificates once per process. */
static void bridges_load(void);

/* ---- the CA pool and the AMT root list, read once per change ---------- */

/*
 * What every evaluation reads from the database: the CA pool, parsed, and
 * the AMT root list as pki wants it. Immutable once read; the requests
 * that use it and the cache hold a reference each.
 */
struct ca_snapshot {
	atomic_uint refs;
	uint64_t generation; /* of the cache when it was read */
	struct pki_cert **pool;
	size_t npool;
	struct db_amt_root_list *db_roots;
	struct pki_amt_root *roots; /* their strings are db_roots' */
	size_t nroots;
};

struct core_cache {
	pthread_mutex_t lock;
	uint64_t generation;         /* bumped by every change */
	struct ca_snapshot *current; /* of this generation, or NULL */
};

static void
snapshot_put(struct ca_snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	core_certs_free(s->pool, s->npool);
	db_amt_root_list_free(s->db_roots);
	free(s->roots);
	free(s);
}

/* Reads the pool and the root list; *out has one reference. */
static int
snapshot_read(struct core *c, uint64_t generation, struct ca_snapshot **out)
{
	struct ca_snapshot *s = calloc(1, sizeof(*s));
	struct db_cert_list *pool = NULL;
	int ret = s ? db_pool_list(c->db, &pool) : ERR_NOMEM;

	if (!s)
		return ret;
	atomic_init(&s->refs, 1);
	s->generation = generation;
	if (ret == 0)
		ret = core_certs_parse(pool, &s->pool, &s->npool);
	db_cert_list_free(pool);
	if (ret == 0)
		ret = db_amt_root_list(c->db, &s->db_roots);
	if (ret == 0) {
		s->roots = calloc(s->db_roots->count + 1, sizeof(*s->roots));
		if (!s->roots)
			ret = ERR_NOMEM;
	}
	for (size_t i = 0; ret == 0 && i < s->db_roots->count; i++) {
		const struct db_amt_root *r = &s->db_roots->items[i];

		s->roots[i] =
		    (struct pki_amt_root){ r->name,   r->sha1,    r->sha256,
			                   r->sha384, r->enabled, r->evidence };
		s->nroots++;
	}
	if (ret < 0) {
		snapshot_put(s);
		return ret;
	}
	*out = s;
	return 0;
}

/*
 * The current snapshot, with a reference for the caller; read from the
 * database when a change made the last one stale. Without a cache every
 * call reads.
 */
static int
snapshot_get(struct core *c, struct ca_snapshot **out)
{
	struct core_cache *k = c->cache;
	struct ca_snapshot *s = NULL, *stale = NULL;
	uint64_t generation;
	int ret;

	if (!k)
		return snapshot_read(c, 0, out);
	pthread_mutex_lock(&k->lock);
	generation = k->generation;
	if (k->current) {
		s = k->current;
		atomic_fetch_add(&s->refs, 1);
	}
	pthread_mutex_unlock(&k->lock);
	if (s) {
		*out = s;
		return 0;
	}
	/* read without the lock: requests that find a snapshot do not wait */
	ret = snapshot_read(c, generation, &s);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&k->lock);
	/* a change while we read: ours serves this call only */
	if (k->generation == generation) {
		stale = k->current; /* another reader's, of the same data */
		k->current = s;
		atomic_fetch_add(&s->refs, 1);
	}
	pthread_mutex_unlock(&k->lock);
	snapshot_put(stale);
	*out = s;
	return 0;
}

void
core_cache_invalidate(struct core *c)
{
	struct core_cache *k = c->cache;
	struct ca_snapshot *stale;

	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->generation++;
	stale = k->current;
	k->current = NULL;
	pthread_mutex_unlock(&k->lock);
	snapshot_put(stale);
}

void
core_cache_init(struct core *c)
{
	struct core_cache *k = calloc(1, sizeof(*k));

	if (k && pthread_mutex_init(&k->lock, NULL) != 0) {
		free(k);
		k = NULL;
	}
	if (!k)
		log_warn("core: no cache: the CA pool and the AMT root list "
		         "are read for every evaluation");
	c->cache = k;
	bridges_load(); /* at start, not on the first evaluation */
}

void
core_cache_free(struct core *c)
{
	struct core_cache *k = c->cache;

	if (!k)
		return;
	snapshot_put(k->current);
	pthread_mutex_destroy(&k->lock);
	free(k);
	c->cache = NULL;
}

/* ---- evaluations -------------------------------------------------------- */

/* What an evaluation owns besides the paths and the report. */
struct eval_priv {
	struct pki_candidate leaf; /* the paths point at it */
	struct pki_candidate cands[MAX_CANDIDATES];
	size_t ncands;
	struct ca_snapshot *snap; /* the pool and the AMT roots */
};

static void
cand_add(struct eval_priv *x, const struct pki_cert *c, enum pki_origin o)
{
	for (size_t i = 0; i < x->ncands; i++) {
		if (strcmp(x->cands[i].cert->sha256, c->sha256) == 0)
			return; /* the nearer origin wins */
	}
	if (x->ncands < MAX_CANDIDATES) {
		x->cands[x->ncands].cert = c;
		x->cands[x->ncands].origin = o;
		x->ncands++;
	}
}

static bool
path_uses_system(const struct pki_path *p)
{
	for (size_t i = 0; i < p->len; i++) {
		if (p->certs[i]->origin == PKI_ORIGIN_SYSTEM)
			return true;
	}
	return false;
}

/* ---- the known cross-certificates (data/bridges/) ----------------------- */

/* Largest bridge file read from AMTCERTD_BRIDGES_DIR. */
#define BRIDGE_FILE_MAX (256 * 1024)
#define BRIDGE_TSV_COLS 9

/* One known bridge: a row of bridges.tsv, or a built-in certificate. */
struct bridge {
	const char *subject, *issuer; /* names for messages */
	const char *sha256, *spki, *ski;
	const char *root_sha256; /* the AMT-listed root that signed it */
	const char *source;
	const struct pki_cert *cert; /* built in, or NULL: known only */
};

/*
 * Read once per process: the built-in set (the embedded data/bridges/, or
 * the *.pem files of AMTCERTD_BRIDGES_DIR, for tests and operators who
 * want another set) and the catalogue of known bridges, which always holds
 * the embedded bridges.tsv. Never changed afterwards.
 */
static struct {
	pthread_once_t once;
	struct pki_cert **certs; /* the built-in set: bridges and their roots */
	size_t ncerts;
	struct bridge *known;
	size_t nknown;
	char *tsv; /* the catalogue's text; known's strings point into it */
	char *dir; /* AMTCERTD_BRIDGES_DIR, or NULL */
} bridges = { .once = PTHREAD_ONCE_INIT };

static const struct pki_intake_limits bridge_limits = {
	.max_input = BRIDGE_FILE_MAX,
	.max_total = 4 * BRIDGE_FILE_MAX,
	.max_entries = 1,
	.max_ratio = 1,
	.max_depth = 0,
	.max_certs = 64,
};

static void
bridge_file_add(struct pki_bundle *b, const char *path)
{
	unsigned char *buf = NULL;
	const char *why = NULL;
	struct stat st;
	ssize_t got = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size > 0 && st.st_size <= BRIDGE_FILE_MAX) {
		buf = malloc((size_t)st.st_size);
		got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	}
	if (fd >= 0)
		close(fd);
	if (got <= 0 || pki_intake_add(b, buf, (size_t)got, path, NULL,
	                               &bridge_limits, &why) < 0)
		log_warn("core: bridges: %s skipped: %s", path,
		         why ? why : "unreadable");
	free(buf);
}

/* Every *.pem of dir (and of dir/roots) into b. */
static void
bridge_dir_add(struct pki_bundle *b, const char *dir, bool recurse)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d) {
		log_warn("core: bridges: cannot read %s", dir);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char *path = util_aprintf("%s/%s", dir, e->d_name);

		if (path && n > 4 && strcmp(e->d_name + n - 4, ".pem") == 0)
			bridge_file_add(b, path);
		else if (path && recurse && strcmp(e->d_name, "roots") == 0)
			bridge_dir_add(b, path, false);
		free(path);
	}
	closedir(d);
}

static const struct pki_cert *
builtin_find(const char *sha256)
{
	for (size_t i = 0; sha256 && i < bridges.ncerts; i++) {
		if (strncmp(bridges.certs[i]->sha256, sha256,
		            PKI_SHA256_HEX_LEN) == 0)
			return bridges.certs[i];
	}
	return NULL;
}

/* The catalogue's rows (file, subject, issuer, sha256, spki_sha256, ski,
 * root_sha256, source, why); malformed rows are logged and skipped. */
static void
bridge_tsv_parse(void)
{
	size_t len = embedded_bridges_tsv_len, rows = 0;
	char *line, *next;

	bridges.tsv = malloc(len + 1);
	if (!bridges.tsv)
		return;
	memcpy(bridges.tsv, embedded_bridges_tsv, len);
	bridges.tsv[len] = '\0';
	for (size_t i = 0; i < len; i++)
		rows += bridges.tsv[i] == '\n';
	bridges.known =
	    calloc(rows + 1 + bridges.ncerts, sizeof(struct bridge));
	if (!bridges.known)
		return;
	for (line = bridges.tsv; line && *line; line = next) {
		char *col[BRIDGE_TSV_COLS], *p = line;
		size_t n = 0;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == '#' || strncmp(line, "file\t", 5) == 0 || !*line)
			continue;
		while (n < BRIDGE_TSV_COLS) {
			col[n++] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (n != BRIDGE_TSV_COLS || !pki_hex_is(col[3], 64) ||
		    !pki_hex_is(col[4], 64) || !pki_hex_is(col[6], 64)) {
			log_warn("core: bridges.tsv: malformed row skipped");
			continue;
		}
		bridges.known[bridges.nknown++] = (struct bridge){
			.subject = col[1],
			.issuer = col[2],
			.sha256 = col[3],
			.spki = col[4],
			.ski = col[5],
			.root_sha256 = col[6],
			.source = col[7],
			.cert = builtin_find(col[3]),
		};
	}
}

/* Built-in bridges the catalogue does not name (another set). */
static void
bridge_known_from_builtin(void)
{
	for (size_t i = 0; bridges.known && i < bridges.ncerts; i++) {
		const struct pki_cert *c = bridges.certs[i];
		const struct pki_cert *root = NULL;
		bool listed = false;

		if (c->self_signed || !c->is_ca)
			continue;
		for (size_t k = 0; k < bridges.nknown && !listed; k++)
			listed = bridges.known[k].cert == c;
		for (size_t j = 0; j < bridges.ncerts && !root; j++) {
			if (bridges.certs[j]->self_signed &&
			    pki_cert_is_signed_by(c, bridges.certs[j]))
				root = bridges.certs[j];
		}
		if (listed || !root)
			continue;
		bridges.known[bridges.nknown++] = (struct bridge){
			.subject = c->common_name ? c->common_name : c->subject,
			.issuer = root->common_name ? root->common_name
			                            : root->subject,
			.sha256 = c->sha256,
			.spki = c->spki_sha256,
			.ski = c->ski,
			.root_sha256 = root->sha256,
			.source = bridges.dir,
			.cert = c,
		};
	}
}

static void
bridges_load_once(void)
{
	const char *dir = getenv("AMTCERTD_BRIDGES_DIR");
	struct pki_bundle b;

	pki_bundle_init(&b);
	if (dir && *dir) {
		bridges.dir = util_strdup(dir);
		bridge_dir_add(&b, dir, true);
	} else {
		for (size_t i = 0; embedded_bridges[i].path; i++) {
			const char *why = NULL;

			if (pki_intake_add(&b, embedded_bridges[i].data,
			                   embedded_bridges[i].len,
			                   embedded_bridges[i].path, NULL,
			                   &bridge_limits, &why) < 0)
				log_error("core: built-in bridge %s: %s",
				          embedded_bridges[i].path,
				          why ? why : "unreadable");
		}
	}
	bridges.certs = calloc(b.count + 1, sizeof(*bridges.certs));
	for (size_t i = 0; bridges.certs && i < b.count; i++) {
		if (b.certs[i].cert)
			bridges.certs[bridges.ncerts++] = b.certs[i].cert;
		b.certs[i].cert = NULL;
	}
	pki_bundle_clear(&b);
	bridge_tsv_parse();
	bridge_known_from_builtin();
	log_info("core: %zu built-in cross-certificates and roots (%s), %zu "
	         "known bridges",
	         bridges.ncerts, bridges.dir ? bridges.dir : "data/bridges",
	         bridges.nknown);
}

static void
bridges_load(void)
{
	pthread_once(&bridges.once, bridges_load_once);
}

const struct pki_cert *
core_bridge_find(const char *sha256)
{
	bridges_load();
	return builtin_find(sha256);
}

/* true when p goes through a built-in cross-certificate (not only a
 * built-in root). */
static bool
path_uses_bridge(const struct pki_path *p)
{
	for (size_t i = 1; i < p->len; i++) {
		if (p->certs[i]->origin == PKI_ORIGIN_BUILTIN &&
		    !p->certs[i]->cert->self_signed)
			return true;
	}
	return false;
}

/*
 * Tries the chain again with the built-in set; keeps the new paths only
 * when they end at an enabled AMT root through a built-in bridge (the
 * built-in roots come along only to end such a path: a delivery that
 * merely lacks its root is the system store's to complete, or the
 * admin's).
 */
static int
bridges_try(struct eval_priv *x, const struct ca_snapshot *s, bool sha2,
            struct core_evaluation *ev)
{
	size_t keep = x->ncands;
	struct pki_path *paths = NULL;
	size_t n = 0;
	int ret;

	bridges_load();
	for (size_t i = 0; i < bridges.ncerts; i++)
		cand_add(x, bridges.certs[i], PKI_ORIGIN_BUILTIN);
	if (x->ncands == keep)
		return 0;
	ret = pki_chain_build_memo(&x->leaf, x->cands, x->ncands, s->roots,
	                           s->nroots, sha2, ev->memo, &paths, &n);
	if (ret == 0 && n > 0 && paths[0].amt_trusted &&
	    path_uses_bridge(&paths[0])) {
		pki_paths_free(ev->paths, ev->npaths);
		ev->paths = paths;
		ev->npaths = n;
		return 0;
	}
	pki_paths_free(paths, n);
	x->ncands = keep;
	return ret == ERR_TOO_LARGE ? 0 : ret;
}

/* ---- the report's words about bridges ----------------------------------- */

/* What an AMT list entry's evidence means, in words. */
static const char *
evidence_words(const char *e)
{
	if (!e)
		return "evidence not recorded";
	if (strcmp(e, "legacy-default") == 0)
		return "default in firmware: on the SHA-1 default list of AMT "
		       "2.6 to 10";
	if (strcmp(e, "amt8-firmware") == 0)
		return "default in firmware: found in an AMT 8 firmware image";
	if (strcmp(e, "device-reported") == 0)
		return "reported by devices: listed as default and active by "
		       "an AMT 11+ device";
	if (strcmp(e, "cited") == 0)
		return "only cited: named elsewhere, not confirmed as a "
		       "default of any AMT firmware, so check a device's own "
		       "list (rpc amtinfo -cert) before trusting it";
	if (strcmp(e, "user") == 0)
		return "added here by an administrator";
	return e;
}

/* Appends a printf-style piece to *s; on ERR_NOMEM *s is freed. */
static int text_add(char **s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
text_add(char **s, const char *fmt, ...)
{
	va_list ap;
	char piece[1024];
	char *grown;

	va_start(ap, fmt);
	vsnprintf(piece, sizeof(piece), fmt, ap);
	va_end(ap);
	grown = util_aprintf("%s%s", *s ? *s : "", piece);
	free(*s);
	*s = grown;
	return grown ? 0 : ERR_NOMEM;
}

static const char *
cert_name(const struct pki_cert *c)
{
	return c->common_name ? c->common_name : c->subject;
}

static struct pki_check *
report_check(struct pki_report *r, const char *id)
{
	for (size_t i = 0; i < r->count; i++) {
		if (strcmp(r->checks[i].id, id) == 0)
			return &r->checks[i];
	}
	return NULL;
}

/* The enabled-or-not AMT entry whose SHA-256 is sha256, or NULL. */
static const struct pki_amt_root *
amt_entry(const struct ca_snapshot *s, const char *sha256)
{
	for (size_t i = 0; sha256 && i < s->nroots; i++) {
		if (s->roots[i].sha256 &&
		    strcasecmp(s->roots[i].sha256, sha256) == 0)
			return &s->roots[i];
	}
	return NULL;
}

/* true when bridge k leads some path of ev further up: a certificate of
 * the path is its twin (same key), or an incomplete path stops where it
 * would be the issuer. */
static bool
bridge_helps(const struct bridge *k, const struct core_evaluation *ev)
{
	for (size_t j = 0; j < ev->npaths; j++) {
		const struct pki_path *p = &ev->paths[j];
		const struct pki_cert *top = p->certs[p->len - 1]->cert;

		for (size_t i = 1; i < p->len; i++) {
			const struct pki_cert *c = p->certs[i]->cert;

			if (strcmp(c->sha256, k->sha256) != 0 &&
			    strcasecmp(c->spki_sha256, k->spki) == 0)
				return true;
		}
		if (!p->complete && top->aki && k->ski && *k->ski &&
		    strcasecmp(top->aki, k->ski) == 0)
			return true;
	}
	return false;
}

/* "completed with the built-in cross-certificate ..." for the chosen
 * path, appended to the root_trusted message; nothing when none used. */
static int
report_builtin_used(struct core_evaluation *ev)
{
	const struct pki_path *p = &ev->paths[0];
	struct pki_check *c = report_check(ev->report, "root_trusted");
	char *note = NULL;
	int ret = 0;

	for (size_t i = 1; ret == 0 && i < p->len; i++) {
		const struct pki_cert *x = p->certs[i]->cert;
		const struct pki_cert *up =
		    i + 1 < p->len ? p->certs[i + 1]->cert : NULL;

		if (p->certs[i]->origin != PKI_ORIGIN_BUILTIN)
			continue;
		if (x->self_signed)
			ret = text_add(&note,
			               "%sthe built-in root %s, SHA-256 %s",
			               note ? " and " : "completed with ",
			               cert_name(x), x->sha256);
		else
			ret = text_add(
			    &note,
			    "%sthe built-in cross-certificate %s "
			    "issued by %s, SHA-256 %s",
			    note ? " and " : "completed with ", cert_name(x),
			    up ? cert_name(up) : x->issuer, x->sha256);
	}
	if (ret == 0 && note && c && c->message) {
		char *msg = util_aprintf("%s; %s (data/bridges/; the "
		                         "order's exports carry it)",
		                         c->message, note);

		if (!msg) {
			ret = ERR_NOMEM;
		} else {
			free(c->message);
			c->message = msg;
		}
	}
	free(note);
	return ret;
}

/*
 * The root_trusted fix when no chain reaches an enabled AMT root: 1. the
 * known bridges that would help, 2. the AMT-list roots this hierarchy
 * reaches, 3. only then enabling the root the chain ends at (or the fix
 * the check gave, for a root the list does not know).
 */
#define REACH_MAX 32

static int
report_advice(struct core_evaluation *ev, const struct ca_snapshot *s)
{
	const struct pki_path *best = &ev->paths[0];
	struct pki_check *c = report_check(ev->report, "root_trusted");
	const struct pki_amt_root *reach[REACH_MAX];
	size_t nreach = 0, step = 0;
	char *fix = NULL;
	int ret = 0;

	if (!c || c->status != PKI_FAIL)
		return 0;
	bridges_load();
	for (size_t i = 0; ret == 0 && i < bridges.nknown; i++) {
		const struct bridge *k = &bridges.known[i];
		const struct pki_amt_root *e = amt_entry(s, k->root_sha256);

		if (!e || !bridge_helps(k, ev))
			continue;
		if (k->cert && !e->enabled)
			ret = text_add(
			    &fix,
			    "%zu. the built-in cross-certificate \"%s\" issued "
			    "by \"%s\" (SHA-256 %s) leads this chain to "
			    "\"%s\", "
			    "which the AMT list has but not enabled (%s): "
			    "enable that entry if your devices trust it. ",
			    ++step, k->subject, k->issuer, k->sha256, e->name,
			    evidence_words(e->evidence));
		else
			ret = text_add(
			    &fix,
			    "%zu. add the cross-certificate \"%s\" issued by "
			    "\"%s\" (SHA-256 %s; %s%s) to the CA pool "
			    "(/api/v1/ca-certificates) and verify again: it "
			    "leads this chain to \"%s\", %s in the AMT list "
			    "(%s). ",
			    ++step, k->subject, k->issuer, k->sha256,
			    k->cert ? "built in" : "not built in here, source ",
			    k->cert ? "" : (k->source ? k->source : "unknown"),
			    e->name, e->enabled ? "enabled" : "not enabled",
			    evidence_words(e->evidence));
		if (nreach < REACH_MAX)
			reach[nreach++] = e;
	}
	for (size_t j = 0; j < ev->npaths && nreach < REACH_MAX; j++) {
		if (ev->paths[j].amt_root)
			reach[nreach++] = ev->paths[j].amt_root;
	}
	for (size_t i = 0, listed = 0; ret == 0 && i < nreach; i++) {
		bool seen = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = reach[k] == reach[i];
		if (seen)
			continue;
		if (listed++ == 0)
			ret = text_add(&fix,
			               "%zu. roots of the AMT list this CA "
			               "hierarchy reaches: ",
			               ++step);
		if (ret == 0)
			ret = text_add(&fix, "%s\"%s\" (%s; %s)",
			               listed > 1 ? ", " : "", reach[i]->name,
			               reach[i]->enabled ? "enabled"
			                                 : "not enabled",
			               evidence_words(reach[i]->evidence));
	}
	if (ret == 0 && nreach > 0)
		ret = text_add(&fix, ". ");
	if (ret == 0 && step == 0)
		return 0; /* nothing to add: the check's own fix stands */
	if (ret == 0 && best->known_not_enabled && best->amt_root)
		ret = text_add(&fix,
		               "%zu. only then, if your devices trust it, "
		               "enable \"%s\" in the AMT root list (%s).",
		               ++step, best->amt_root->name,
		               evidence_words(best->amt_root->evidence));
	else if (ret == 0)
		ret = text_add(&fix, "%zu. otherwise: %s", ++step, c->fix);
	if (ret == 0) {
		free(c->fix);
		c->fix = fix;
		fix = NULL;
	}
	free(fix);
	return ret;
}

void
core_evaluation_clear(struct core_evaluation *ev)
{
	struct eval_priv *x = ev->priv;

	pki_report_free(ev->report);
	pki_paths_free(ev->paths, ev->npaths);
	pki_sig_memo_free(ev->memo);
	if (x) {
		snapshot_put(x->snap);
		free(x);
	}
	memset(ev, 0, sizeof(*ev));
}

int
core_chain_evaluate(struct core *c, const struct pki_cert *leaf,
                    enum pki_origin leaf_origin,
                    const struct pki_cert *const *certs,
                    const enum pki_origin *origins, size_t ncerts,
                    const struct pki_verify_opts *opts,
                    struct core_evaluation *out)
{
	struct eval_priv *x = calloc(1, sizeof(*x));
	struct core_evaluation ev;
	const struct ca_snapshot *s;
	bool sha2 = opts->amt_max >= 16 || opts->amt_min >= 16;
	int ret;

	memset(&ev, 0, sizeof(ev));
	if (!x)
		return ERR_NOMEM;
	ev.priv = x;
	ev.opts = *opts;
	x->leaf = (struct pki_candidate){ leaf, leaf_origin };
	for (size_t i = 0; i < ncerts; i++)
		cand_add(x, certs[i], origins[i]);
	ret = pki_sig_memo_new(&ev.memo);
	if (ret == 0)
		ret = snapshot_get(c, &x->snap);
	s = x->snap;
	/* every signature is verified once: building, checking, classifying */
	ev.opts.memo = ev.memo;
	for (size_t i = 0; ret == 0 && i < s->npool; i++)
		cand_add(x, s->pool[i], PKI_ORIGIN_POOL);
	if (ret == 0)
		ret = pki_chain_build_memo(&x->leaf, x->cands, x->ncands,
		                           s->roots, s->nroots, sha2, ev.memo,
		                           &ev.paths, &ev.npaths);
	/* The system trust store only completes a chain that has no root. */
	if (ret == 0 && ev.npaths > 0 && !ev.paths[0].complete &&
	    c->nsystem > 0) {
		pki_paths_free(ev.paths, ev.npaths);
		ev.paths = NULL;
		ev.npaths = 0;
		for (size_t i = 0; i < c->nsystem; i++)
			cand_add(x, c->system_certs[i], PKI_ORIGIN_SYSTEM);
		ret = pki_chain_build_memo(&x->leaf, x->cands, x->ncands,
		                           s->roots, s->nroots, sha2, ev.memo,
		                           &ev.paths, &ev.npaths);
	}
	/* Then the built-in cross-certificates, for a chain AMT would
	 * refuse; they are kept only when they make it one AMT accepts. */
	if (ret == 0 && ev.npaths > 0 && !ev.paths[0].amt_trusted)
		ret = bridges_try(x, s, sha2, &ev);
	if (ret == 0 && ev.npaths == 0)
		ret = ERR_INVALID;
	if (ret == 0)
		ret = pki_verify_path(&ev.paths[0], &ev.opts, &ev.report);
	if (ret == 0)
		ret = report_builtin_used(&ev);
	if (ret == 0)
		ret = report_advice(&ev, s);
	if (ret < 0) {
		log_error("verify: chain or checks failed: %s", err_str(ret));
		core_evaluation_clear(&ev);
		return ret;
	}
	ev.cands = x->cands;
	ev.ncands = x->ncands;
	ev.used_system = path_uses_system(&ev.paths[0]);
	ev.overall = ev.report->overall;
	ev.leaf_not_after = ev.paths[0].certs[0]->cert->not_after;
	for (size_t i = 1; i < ev.paths[0].len; i++) {
		int64_t na = ev.paths[0].certs[i]->cert->not_after;

		if (ev.chain_not_after == 0 || na < ev.chain_not_after)
			ev.chain_not_after = na;
	}
	*out = ev;
	return 0;
}

/* The chosen chain as space-separated SHA-256s, leaf first. */
static char *
chain_list(const struct pki_path *p)
{
	size_t cap = p->len * (PKI_SHA256_HEX_LEN + 1) + 1, o = 0;
	char *s = malloc(cap);

	for (size_t i = 0; s && i < p->len; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s%s", i ? " " : "",
		                      p->certs[i]->cert->sha256);
	return s;
}

int
core_verify_loaded(struct core *c, const struct db_order *o,
                   const struct pki_verify_opts *opts,
                   const struct core_actor *who, struct core_verify_result *out,
                   struct core_problem *pb)
{
	struct db_cert_list *stored = NULL;
	struct pki_cert **parsed = NULL, *leaf = NULL;
	const struct pki_cert **others = NULL;
	enum pki_origin *origins = NULL;
	struct core_evaluation ev;
	struct pki_verify_opts vo = *opts;
	struct db_verification v;
	char *report = NULL, *chain = NULL;
	size_t nparsed = 0, nothers = 0;
	int ret;

	memset(&ev, 0, sizeof(ev));
	if (!o->leaf_sha256)
		return core_refuse_state(pb, ERR_CONFLICT, "no_leaf", o->state,
		                         "the order has no certificate yet: "
		                         "upload the CA's delivery first");
	ret = db_order_certs(c->db, o->id, &stored);
	if (ret == 0)
		ret = core_certs_parse(stored, &parsed, &nparsed);
	if (ret < 0)
		goto out;
	others = calloc(nparsed + 1, sizeof(*others));
	origins = calloc(nparsed + 1, sizeof(*origins));
	if (!others || !origins) {
		ret = ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < nparsed; i++) {
		if (strcmp(parsed[i]->sha256, o->leaf_sha256) == 0) {
			leaf = parsed[i];
		} else {
			others[nothers] = parsed[i];
			origins[nothers++] = PKI_ORIGIN_UPLOAD;
		}
	}
	if (!leaf) {
		log_error("verify: %s: the leaf %s is not stored", o->id,
		          o->leaf_sha256);
		ret = ERR_DB;
		goto out;
	}
	if (!vo.dns_suffix)
		vo.dns_suffix = o->dns_suffix;
	vo.expected_spki = o->public_key_sha256;
	ret = core_chain_evaluate(c, leaf, PKI_ORIGIN_UPLOAD, others, origins,
	                          nothers, &vo, &ev);
	if (ret < 0)
		goto out;
	report = c->render_report(&ev, o->id, c->render_arg);
	chain = chain_list(&ev.paths[0]);
	if (!report || !chain) {
		ret = ERR_NOMEM;
		goto out;
	}
	v = (struct db_verification){
		.evaluated_at = vo.at,
		.overall = pki_status_name(ev.overall),
		.report = report,
		.chain = chain,
		.trigger = ev.overall == PKI_FAIL ? ORDER_T_VERIFY_FAIL
		                                  : ORDER_T_VERIFY_PASS,
		.leaf_not_after = ev.leaf_not_after,
		.chain_not_after = ev.chain_not_after,
	};
	ret = db_verification_insert(c->db, o->id, &v, who->name, util_now(),
	                             &out->state);
	if (ret < 0)
		goto out;
	out->overall = ev.overall;
	out->report = report;
	report = NULL;
out:
	free(report);
	free(chain);
	core_evaluation_clear(&ev);
	core_certs_free(parsed, nparsed);
	free(others);
	free(origins);
	db_cert_list_free(stored);
	return ret;
}

int
core_order_verify(struct core *c, const char *id,
                  const struct pki_verify_opts *opts,
                  const struct core_actor *who, struct core_verify_result *out,
                  struct core_problem *pb)
{
	struct db_order *o = NULL;
	int ret = core_order_load(c, id, &o, pb);

	if (ret == 0)
		ret = core_verify_loaded(c, o, opts, who, out, pb);
	db_order_free(o);
	return ret;
}
