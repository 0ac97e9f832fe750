/*
 * config.c: configuration (flags > AMTCERTD_* environment > systemd's
 * STATE_DIRECTORY > embedded defaults), the state directory, the master
 * key file and the first admin token.
 */
#include "daemon/daemon.h"

#include "api/api.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/embedded.h"
#include "core/core.h"
#include "db/db.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_LISTEN          "127.0.0.1:8080"
#define DEFAULT_STATE_DIR       "amtcertd-state"
#define DEFAULT_MAX_BODY        (64u << 10)
#define MAX_MAX_BODY            (64u << 20)
#define DEFAULT_MAX_UPLOAD      (10u << 20)
#define MAX_MAX_UPLOAD          (256u << 20)
#define DEFAULT_SYSTEM_ROOTS    "/etc/ssl/certs/ca-certificates.crt"
#define DEFAULT_MAX_CONNECTIONS 4096
#define DEFAULT_HEADER_TIMEOUT  20
#define DEFAULT_BODY_TIMEOUT    20

int
daemon_parse_listen(const char *s, char *host, size_t host_size, uint16_t *port)
{
	const char *colon, *hs = s;
	size_t hlen;
	char *end;
	unsigned long p;

	if (!s || !*s)
		return ERR_INVALID;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return ERR_INVALID;
		hs = s + 1;
		hlen = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return ERR_INVALID;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0) {
		hs = "127.0.0.1";
		hlen = strlen(hs);
	}
	if (hlen >= host_size)
		return ERR_INVALID;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p > 65535 || colon[1] == '-' ||
	    colon[1] == '+')
		return ERR_INVALID;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return 0;
}

bool
daemon_host_is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

static int
copy_str(char *dst, size_t n, const char *src)
{
	if (!src || strlen(src) >= n)
		return ERR_INVALID;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static int
set_option(struct daemon_config *cfg, const char *name, const char *v,
           const char **why)
{
	char *end;
	unsigned long long n;

	if (strcmp(name, "listen") == 0) {
		if (daemon_parse_listen(v, cfg->listen_host,
		                        sizeof(cfg->listen_host),
		                        &cfg->listen_port) < 0) {
			*why = "--listen wants HOST:PORT, e.g. 127.0.0.1:8080 "
			       "(port 0 picks a free one)";
			return ERR_INVALID;
		}
		return 0;
	}
	if (strcmp(name, "state-dir") == 0) {
		if (!*v ||
		    copy_str(cfg->state_dir, sizeof(cfg->state_dir), v) < 0) {
			*why = "--state-dir wants a directory path";
			return ERR_INVALID;
		}
		return 0;
	}
	if (strcmp(name, "web-dir") == 0) {
		if (copy_str(cfg->web_dir, sizeof(cfg->web_dir), v) < 0) {
			*why = "--web-dir wants a directory path";
			return ERR_INVALID;
		}
		return 0;
	}
	if (strcmp(name, "allow-host") == 0) {
		size_t len = strlen(v);

		if (len == 0 || len > 255 ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
		              "VWXYZ0123456789.-_:[]") != len) {
			*why = "--allow-host wants a host name, NAME or "
			       "NAME:PORT (e.g. certs.example.com)";
			return ERR_INVALID;
		}
		if (cfg->nallow_hosts >= DAEMON_MAX_ALLOW_HOSTS) {
			*why = "--allow-host: at most 16 names";
			return ERR_INVALID;
		}
		memcpy(cfg->allow_hosts[cfg->nallow_hosts++], v, len + 1);
		return 0;
	}
	if (strcmp(name, "system-roots") == 0) {
		if (copy_str(cfg->system_roots, sizeof(cfg->system_roots), v) <
		    0) {
			*why = "--system-roots wants a PEM file path, or \"\"";
			return ERR_INVALID;
		}
		return 0;
	}
	{
		static const struct {
			const char *name, *why;
			unsigned long long min, max;
		} lim[] = {
			{ "max-body", "--max-body wants bytes, 1024..67108864",
			  1024, MAX_MAX_BODY },
			{ "max-upload",
			  "--max-upload wants bytes, 1024..268435456", 1024,
			  MAX_MAX_UPLOAD },
			{ "workers", "--workers wants 1..64", 1, 64 },
			{ "renewal-days", "--renewal-days wants 1..365", 1,
			  365 },
			{ "threads", "--threads wants 1..256", 1, 256 },
			{ "max-connections",
			  "--max-connections wants 16..65536", 16, 65536 },
			{ "max-connections-per-ip",
			  "--max-connections-per-ip wants 0..65536 (0: no "
			  "limit)",
			  0, 65536 },
			{ "header-timeout", "--header-timeout wants 1..3600", 1,
			  3600 },
			{ "body-timeout", "--body-timeout wants 1..3600", 1,
			  3600 },
		};

		for (size_t k = 0; k < sizeof(lim) / sizeof(lim[0]); k++) {
			if (strcmp(lim[k].name, name) != 0)
				continue;
			errno = 0;
			n = strtoull(v, &end, 10);
			if (errno || *end || end == v || *v == '-' ||
			    n < lim[k].min || n > lim[k].max) {
				*why = lim[k].why;
				return ERR_INVALID;
			}
			switch (k) {
			case 0:
				cfg->max_body = (size_t)n;
				break;
			case 1:
				cfg->max_upload = (size_t)n;
				break;
			case 2:
				cfg->workers = (unsigned)n;
				break;
			case 3:
				cfg->renewal_days = (unsigned)n;
				break;
			case 4:
				cfg->threads = (unsigned)n;
				break;
			case 5:
				cfg->max_connections = (unsigned)n;
				break;
			case 6:
				cfg->max_per_ip = (unsigned)n;
				break;
			case 8:
				cfg->body_timeout = (unsigned)n;
				break;
			default:
				cfg->header_timeout = (unsigned)n;
				break;
			}
			return 0;
		}
	}
	if (strcmp(name, "log-level") == 0) {
		if (strcmp(v, "debug") && strcmp(v, "info") &&
		    strcmp(v, "warn") && strcmp(v, "error")) {
			*why = "--log-level wants debug, info, warn or error";
			return ERR_INVALID;
		}
		copy_str(cfg->log_level, sizeof(cfg->log_level), v);
		return 0;
	}
	*why = "unknown option; see amtcertd --help";
	return ERR_INVALID;
}

int
daemon_config_defaults(struct daemon_config *cfg, const char **why)
{
	static const struct {
		const char *env, *opt;
	} envs[] = {
		{ "AMTCERTD_LISTEN", "listen" },
		{ "AMTCERTD_STATE_DIR", "state-dir" },
		{ "AMTCERTD_WEB_DIR", "web-dir" },
		{ "AMTCERTD_MAX_BODY", "max-body" },
		{ "AMTCERTD_WORKERS", "workers" },
		{ "AMTCERTD_LOG_LEVEL", "log-level" },
		{ "AMTCERTD_MAX_UPLOAD", "max-upload" },
		{ "AMTCERTD_SYSTEM_ROOTS", "system-roots" },
		{ "AMTCERTD_RENEWAL_DAYS", "renewal-days" },
		{ "AMTCERTD_THREADS", "threads" },
		{ "AMTCERTD_MAX_CONNECTIONS", "max-connections" },
		{ "AMTCERTD_MAX_CONNECTIONS_PER_IP", "max-connections-per-ip" },
		{ "AMTCERTD_HEADER_TIMEOUT", "header-timeout" },
		{ "AMTCERTD_BODY_TIMEOUT", "body-timeout" },
	};
	const char *sd = getenv("STATE_DIRECTORY");
	const char *cd = getenv("CREDENTIALS_DIRECTORY");
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(cfg, 0, sizeof(*cfg));
	daemon_parse_listen(DEFAULT_LISTEN, cfg->listen_host,
	                    sizeof(cfg->listen_host), &cfg->listen_port);
	copy_str(cfg->state_dir, sizeof(cfg->state_dir), DEFAULT_STATE_DIR);
	/* systemd may list several directories separated by ':'. */
	if (sd && *sd) {
		size_t n = strcspn(sd, ":");
		if (n < sizeof(cfg->state_dir)) {
			memcpy(cfg->state_dir, sd, n);
			cfg->state_dir[n] = '\0';
		}
	}
	if (cd && *cd)
		copy_str(cfg->credentials_dir, sizeof(cfg->credentials_dir),
		         cd);
	cfg->max_body = DEFAULT_MAX_BODY;
	cfg->max_upload = DEFAULT_MAX_UPLOAD;
	cfg->renewal_days = 30;
	copy_str(cfg->system_roots, sizeof(cfg->system_roots),
	         DEFAULT_SYSTEM_ROOTS);
	cfg->workers = ncpu > 0 && ncpu < 64 ? (unsigned)ncpu : 2;
	cfg->threads = ncpu > 0 && ncpu < 64 ? (unsigned)ncpu : 2;
	cfg->max_connections = DEFAULT_MAX_CONNECTIONS;
	cfg->max_per_ip = DAEMON_PER_IP_AUTO;
	cfg->header_timeout = DEFAULT_HEADER_TIMEOUT;
	cfg->body_timeout = DEFAULT_BODY_TIMEOUT;
	copy_str(cfg->log_level, sizeof(cfg->log_level), "info");
	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		const char *v = getenv(envs[i].env);
		if (v && set_option(cfg, envs[i].opt, v, why) < 0)
			return ERR_INVALID;
	}
	/* AMTCERTD_ALLOW_HOST: names separated by commas or spaces */
	{
		const char *v = getenv("AMTCERTD_ALLOW_HOST");

		while (v && *v) {
			char name[256];
			size_t n = strcspn(v, ", ");

			if (n > 0) {
				if (n >= sizeof(name)) {
					*why = "AMTCERTD_ALLOW_HOST: a name is "
					       "too long";
					return ERR_INVALID;
				}
				memcpy(name, v, n);
				name[n] = '\0';
				if (set_option(cfg, "allow-host", name, why) <
				    0)
					return ERR_INVALID;
			}
			v += n;
			v += strspn(v, ", ");
		}
	}
	return 0;
}

/* The flags set_option() knows, so "--bogus" is not asked for a value. */
static bool
is_known_flag(const char *arg)
{
	static const char *const names[] = { "listen",
		                             "state-dir",
		                             "web-dir",
		                             "max-body",
		                             "max-upload",
		                             "system-roots",
		                             "renewal-days",
		                             "workers",
		                             "threads",
		                             "max-connections",
		                             "max-connections-per-ip",
		                             "header-timeout",
		                             "body-timeout",
		                             "allow-host",
		                             "log-level",
		                             NULL };
	size_t n = strcspn(arg, "=");

	for (size_t i = 0; names[i]; i++) {
		if (strlen(names[i]) == n && strncmp(arg, names[i], n) == 0)
			return true;
	}
	return false;
}

int
daemon_config_flag(struct daemon_config *cfg, int argc, char **argv, int *i,
                   const char **why)
{
	const char *arg = argv[*i];
	char name[32];
	const char *eq, *v;
	size_t n;

	if (strncmp(arg, "--", 2) != 0 || !is_known_flag(arg + 2)) {
		*why = "unknown option; see amtcertd --help";
		return ERR_INVALID;
	}
	arg += 2;
	eq = strchr(arg, '=');
	n = eq ? (size_t)(eq - arg) : strlen(arg);
	if (n == 0 || n >= sizeof(name)) {
		*why = "unknown option; see amtcertd --help";
		return ERR_INVALID;
	}
	memcpy(name, arg, n);
	name[n] = '\0';
	if (eq) {
		v = eq + 1;
		(*i)++;
	} else {
		if (*i + 1 >= argc) {
			*why = "option needs a value";
			return ERR_INVALID;
		}
		v = argv[*i + 1];
		*i += 2;
	}
	return set_option(cfg, name, v, why);
}

int
daemon_state_dir_prepare(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("state: mkdir %s: %s", dir, strerror(errno));
		return ERR_IO;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_error("state: %s is not a directory", dir);
		return ERR_IO;
	}
	if ((st.st_mode & 0077) != 0 && chmod(dir, 0700) != 0) {
		log_error("state: chmod %s: %s", dir, strerror(errno));
		return ERR_IO;
	}
	return 0;
}

static int
hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads a key file: 32 raw bytes, or 64 hex digits (a newline allowed). */
static int
read_key_file(const char *path, unsigned char key[PKI_MASTER_KEY_LEN])
{
	unsigned char buf[80];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = ERR_INVALID;

	if (fd < 0)
		return ERR_IO;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n == PKI_MASTER_KEY_LEN) {
		memcpy(key, buf, PKI_MASTER_KEY_LEN);
		ret = 0;
	} else if (n >= 64 && n <= 66) {
		ret = 0;
		for (size_t i = 0; i < PKI_MASTER_KEY_LEN && ret == 0; i++) {
			int hi = hex_val((char)buf[2 * i]);
			int lo = hex_val((char)buf[2 * i + 1]);
			if (hi < 0 || lo < 0)
				ret = ERR_INVALID;
			else
				key[i] = (unsigned char)(hi << 4 | lo);
		}
	}
	util_wipe(buf, sizeof(buf));
	if (ret < 0)
		log_error("state: %s is not a 32-byte or 64-hex-digit key",
		          path);
	return ret;
}

/* Writes data to a new file (mode 0600, must not exist), fsynced. */
static int
write_new_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return errno == EEXIST ? ERR_CONFLICT : ERR_IO;
	n = write(fd, data, len);
	if (n != (ssize_t)len || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return ERR_IO;
	}
	close(fd);
	return 0;
}

int
daemon_master_key_load(const struct daemon_config *cfg,
                       unsigned char key[PKI_MASTER_KEY_LEN])
{
	char path[1100];
	unsigned char fresh[PKI_MASTER_KEY_LEN];
	struct stat st;
	int ret;

	if (cfg->credentials_dir[0]) {
		snprintf(path, sizeof(path), "%s/master.key",
		         cfg->credentials_dir);
		if (access(path, R_OK) == 0)
			return read_key_file(path, key);
	}
	snprintf(path, sizeof(path), "%s/master.key", cfg->state_dir);
	if (stat(path, &st) != 0) {
		if (util_random(fresh, sizeof(fresh)) < 0)
			return ERR_IO;
		ret = write_new_file(path, fresh, sizeof(fresh));
		util_wipe(fresh, sizeof(fresh));
		if (ret < 0 && ret != ERR_CONFLICT) {
			log_error("state: cannot create %s: %s", path,
			          strerror(errno));
			return ret;
		}
		log_info("state: created master key %s (0600)", path);
	} else if ((st.st_mode & 0077) != 0) {
		log_warn("state: %s is readable by others; fixing to 0600",
		         path);
		chmod(path, 0600);
	}
	return read_key_file(path, key);
}

int
daemon_db_open(const char *state_dir, struct db **out)
{
	char path[1100];

	snprintf(path, sizeof(path), "%s/amtcertd.db", state_dir);
	return db_open(path, out);
}

int
daemon_admin_token_ensure(struct db *db, const char *state_dir, bool *created)
{
	struct core_token t;
	char path[1100], line[80];
	int64_t n = 0;
	int ret;

	*created = false;
	ret = db_token_count_admin(db, &n);
	if (ret < 0 || n > 0)
		return ret;
	ret = core_token_mint(&t);
	if (ret < 0)
		goto done;
	snprintf(path, sizeof(path), "%s/admin.token", state_dir);
	unlink(path); /* an old file whose token was revoked */
	snprintf(line, sizeof(line), "%s\n", t.token);
	ret = write_new_file(path, line, strlen(line));
	if (ret < 0) {
		log_error("state: cannot write %s", path);
		goto done;
	}
	ret = db_token_insert(db, t.id, "admin", t.sha256, true, util_now());
	if (ret < 0) {
		unlink(path);
		goto done;
	}
	*created = true;
done:
	core_token_wipe(&t);
	util_wipe(line, sizeof(line));
	return ret;
}

int
daemon_roots_seed(struct db *db)
{
	struct pki_amt_hash_entry *e = NULL;
	struct db_amt_root *rows = NULL;
	char(*ids)[40] = NULL;
	const char *why = NULL;
	size_t n = 0, added = 0;
	int ret;

	ret = pki_amt_list_parse_tsv((const char *)embedded_amt_roots,
	                             embedded_amt_roots_len, &e, &n, &why);
	if (ret < 0) {
		log_error("state: the built-in AMT root list is broken: %s",
		          why ? why : err_str(ret));
		return ret;
	}
	rows = calloc(n ? n : 1, sizeof(*rows));
	ids = calloc(n ? n : 1, sizeof(*ids));
	if (!rows || !ids) {
		ret = ERR_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const char *h = e[i].sha256 ? e[i].sha256
		                : e[i].sha1 ? e[i].sha1
		                            : e[i].sha384;

		/* a stable id, so a user's choice survives restarts */
		snprintf(ids[i], sizeof(ids[i]), "seed_%.16s", h);
		rows[i] = (struct db_amt_root){
			.id = ids[i],
			.name = e[i].name,
			.sha1 = e[i].sha1,
			.sha256 = e[i].sha256,
			.sha384 = e[i].sha384,
			.evidence = e[i].evidence,
			.source = (char *)"seed",
			.enabled = strcmp(e[i].evidence, "cited") != 0,
		};
	}
	ret = db_amt_root_insert(db, rows, n, util_now(), &added);
	if (ret == 0 && added)
		log_info("state: %zu built-in AMT root hashes added", added);
done:
	free(rows);
	free(ids);
	pki_amt_hash_entries_free(e, n);
	return ret;
}

/* ---- the state directory's lock and the login-link code ---------------- */

static int
lock_path(const char *state_dir, const char *name, char *path, size_t n)
{
	int w = snprintf(path, n, "%s/%s", state_dir, name);

	return w < 0 || (size_t)w >= n ? ERR_INVALID : 0;
}

/* Reads what a lock file says (at most size-1 bytes, one line per field). */
static void
lock_read(int fd, char *out, size_t size)
{
	ssize_t n = pread(fd, out, size - 1, 0);

	out[n > 0 ? n : 0] = '\0';
}

/* Finds "key value" in a lock file's text and copies the value. */
static void
lock_field(const char *text, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);

	out[0] = '\0';
	for (const char *l = text; l && *l; l = strchr(l, '\n')) {
		if (*l == '\n')
			l++;
		if (strncmp(l, key, kl) == 0 && l[kl] == ' ') {
			size_t n = strcspn(l + kl + 1, "\n");

			if (n >= size)
				n = size - 1;
			memcpy(out, l + kl + 1, n);
			out[n] = '\0';
			return;
		}
	}
}

static int
lock_write(int fd, const char *text)
{
	size_t n = strlen(text);

	if (ftruncate(fd, 0) != 0 || pwrite(fd, text, n, 0) != (ssize_t)n)
		return errno == ENOSPC ? ERR_FULL : ERR_IO;
	return 0;
}

int
daemon_lock_take(const char *state_dir, int *fd_out, char *holder,
                 size_t holder_size)
{
	char path[1100], text[512], pid[32], url[300];
	int fd;

	holder[0] = '\0';
	if (lock_path(state_dir, DAEMON_LOCK_FILE, path, sizeof(path)) < 0)
		return ERR_INVALID;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_error("state: open %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		if (e == EWOULDBLOCK) {
			/* the holder writes its pid, then its URL: wait a bit
			 */
			for (int i = 0; i < 20; i++) {
				lock_read(fd, text, sizeof(text));
				lock_field(text, "url", url, sizeof(url));
				if (url[0])
					break;
				usleep(50000);
			}
			lock_field(text, "pid", pid, sizeof(pid));
			snprintf(holder, holder_size, "pid %s, listening on %s",
			         pid[0] ? pid : "?",
			         url[0] ? url : "(starting)");
		}
		close(fd);
		if (e != EWOULDBLOCK)
			log_error("state: lock %s: %s", path, strerror(e));
		return e == EWOULDBLOCK ? ERR_CONFLICT : ERR_IO;
	}
	snprintf(text, sizeof(text), "pid %ld\n", (long)getpid());
	if (lock_write(fd, text) < 0) {
		log_error("state: write %s: %s", path, strerror(errno));
		close(fd);
		return errno == ENOSPC ? ERR_FULL : ERR_IO;
	}
	*fd_out = fd;
	return 0;
}

int
daemon_lock_set_url(int fd, const char *url)
{
	char text[512];

	snprintf(text, sizeof(text), "pid %ld\nurl %s\n", (long)getpid(), url);
	return lock_write(fd, text);
}

void
daemon_lock_release(int fd)
{
	if (fd < 0)
		return;
	/* empty, so that a stale file names nobody */
	if (ftruncate(fd, 0) != 0)
		log_warn("state: cannot empty the lock file: %s",
		         strerror(errno));
	flock(fd, LOCK_UN);
	close(fd);
}

int
daemon_lock_holder(const char *state_dir, char *pid, size_t pid_size, char *url,
                   size_t url_size)
{
	char path[1100], text[512];
	int fd, ret = ERR_NOT_FOUND;

	if (lock_path(state_dir, DAEMON_LOCK_FILE, path, sizeof(path)) < 0)
		return ERR_INVALID;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return ERR_NOT_FOUND;
	/* a shared lock is refused only while the daemon holds its own */
	if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
		lock_read(fd, text, sizeof(text));
		lock_field(text, "pid", pid, pid_size);
		lock_field(text, "url", url, url_size);
		ret = 0;
	}
	close(fd);
	return ret;
}

int
daemon_login_code_mint(const char *state_dir, char *code, size_t code_size)
{
	char path[1100], tmp[1120], tok[64], hash[PKI_SHA256_HEX_LEN + 1],
	    line[128];
	int fd = -1, n, ret;

	if (lock_path(state_dir, API_LOGIN_CODE_FILE, path, sizeof(path)) < 0 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return ERR_INVALID;
	ret = util_token_new(tok, sizeof(tok));
	if (ret < 0)
		goto cleanup;
	/* the code is what follows the "amtc_" prefix of a token */
	ret = pki_sha256_hex(tok + 5, strlen(tok + 5), hash);
	if (ret < 0)
		goto cleanup;
	if (strlen(tok + 5) >= code_size) {
		ret = ERR_INVALID;
		goto cleanup;
	}
	n = snprintf(line, sizeof(line), "%s %lld\n", hash,
	             (long long)(util_now() + API_LOGIN_CODE_TTL));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0 ||
	    rename(tmp, path) != 0) {
		ret = errno == ENOSPC ? ERR_FULL : ERR_IO;
		log_error("state: cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		goto cleanup;
	}
	memcpy(code, tok + 5, strlen(tok + 5) + 1);
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	util_wipe(tok, sizeof(tok));
	return ret;
}
