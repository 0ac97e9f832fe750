/*
 * main.c: amtcertd's command line: serve, token create/list/revoke, check.
 * Only main() exits.
 */
#include "api/api.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"
#include "core/core.h"
#include "daemon/daemon.h"
#include "db/db.h"
#include "pki/pki.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 30000
#define SWEEP_INTERVAL_S  3600

static const char usage[] =
    "usage: amtcertd [--help | --version]\n"
    "       amtcertd serve [options]\n"
    "       amtcertd token create --name NAME [--state-dir DIR]\n"
    "       amtcertd token list [--state-dir DIR]\n"
    "       amtcertd token revoke ID [--state-dir DIR]\n"
    "       amtcertd check [--state-dir DIR]\n"
    "       amtcertd login-link [--state-dir DIR]\n"
    "\n"
    "Manages Intel AMT provisioning certificate orders: keys, CSRs, the\n"
    "CA's delivery, chain checks and exports, over a local REST API and\n"
    "dashboard.\n"
    "\n"
    "options (each also as an environment variable):\n"
    "  --listen HOST:PORT  address to serve (AMTCERTD_LISTEN,\n"
    "                      default 127.0.0.1:8080; port 0 = any free)\n"
    "  --state-dir DIR     database, master key and admin token\n"
    "                      (AMTCERTD_STATE_DIR, else systemd's\n"
    "                      STATE_DIRECTORY, else ./amtcertd-state)\n"
    "  --web-dir DIR       serve the dashboard from DIR instead of the\n"
    "                      built-in copy (AMTCERTD_WEB_DIR)\n"
    "  --max-body BYTES    cap for JSON request bodies\n"
    "                      (AMTCERTD_MAX_BODY, default 65536)\n"
    "  --max-upload BYTES  cap for uploads of CA material\n"
    "                      (AMTCERTD_MAX_UPLOAD, default 10485760)\n"
    "  --system-roots FILE PEM bundle that may complete a chain whose\n"
    "                      root was not uploaded (AMTCERTD_SYSTEM_ROOTS,\n"
    "                      default /etc/ssl/certs/ca-certificates.crt;\n"
    "                      \"\" for none)\n"
    "  --renewal-days N    orders whose chain expires within N days\n"
    "                      become renewal_due (AMTCERTD_RENEWAL_DAYS,\n"
    "                      default 30; checked at start and hourly)\n"
    "  --workers N         threads for key generation\n"
    "                      (AMTCERTD_WORKERS, default: CPU count)\n"
    "  --threads N         threads that serve connections (epoll);\n"
    "                      writes run on 4N more (at least 16)\n"
    "                      (AMTCERTD_THREADS, default: CPU count)\n"
    "  --max-connections N open connections at most\n"
    "                      (AMTCERTD_MAX_CONNECTIONS, default 4096)\n"
    "  --max-connections-per-ip N\n"
    "                      from one client address, 0 = no limit\n"
    "                      (AMTCERTD_MAX_CONNECTIONS_PER_IP, default:\n"
    "                      none on loopback, 256 otherwise)\n"
    "  --header-timeout S  seconds a connection has to send a request's\n"
    "                      headers, from connecting or from its last\n"
    "                      answer (AMTCERTD_HEADER_TIMEOUT, default 20)\n"
    "  --body-timeout S    seconds a request has to send its whole body,\n"
    "                      once its headers are in (AMTCERTD_BODY_TIMEOUT,\n"
    "                      default 20)\n"
    "  --allow-host NAME   also answer requests whose Host header is NAME\n"
    "                      (any port) or NAME:PORT, e.g. behind a reverse\n"
    "                      proxy; repeatable (AMTCERTD_ALLOW_HOST, names\n"
    "                      separated by commas). Other hosts than\n"
    "                      127.0.0.1, localhost, [::1] and the --listen\n"
    "                      host get 421 (DNS rebinding)\n"
    "  --log-level LEVEL   debug, info, warn, error\n"
    "                      (AMTCERTD_LOG_LEVEL, default info)\n"
    "\n"
    "With systemd, CREDENTIALS_DIRECTORY/master.key is used as the master\n"
    "key when present.\n"
    "\n"
    "One daemon serves a state directory: a second one refuses to start.\n"
    "The one-time dashboard login link is printed at start only when\n"
    "stdout is a terminal (never into a journal); `amtcertd login-link`\n"
    "mints a fresh one for the running daemon, valid once, for 10 minutes.\n";

static enum log_level
level_of(const char *s)
{
	if (strcmp(s, "debug") == 0)
		return LOG_LEVEL_DEBUG;
	if (strcmp(s, "warn") == 0)
		return LOG_LEVEL_WARN;
	if (strcmp(s, "error") == 0)
		return LOG_LEVEL_ERROR;
	return LOG_LEVEL_INFO;
}

/* Prints the address as a URL (IPv6 in brackets). */
static void
url_of(const char *host, uint16_t port, char *out, size_t n)
{
	if (strchr(host, ':'))
		snprintf(out, n, "http://[%s]:%u/", host, (unsigned)port);
	else
		snprintf(out, n, "http://%s:%u/", host, (unsigned)port);
}

/* Descriptors kept for what is not a connection (database, files, ...). */
#define FD_RESERVE 256

/*
 * Raises the soft limit on open files to what max_connections needs (up
 * to the hard limit); when the hard limit is lower, lowers the number of
 * connections to fit it.
 */
static void
fd_limit_fit(unsigned *max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)*max_connections + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rlim_t soft = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
		                  ? want
		                  : rl.rlim_max;
		struct rlimit nl = { .rlim_cur = soft,
			             .rlim_max = rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
			rl.rlim_cur = soft;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		unsigned fit = rl.rlim_cur > FD_RESERVE + 16
		                   ? (unsigned)(rl.rlim_cur - FD_RESERVE)
		                   : 16;

		log_warn("serve: the open-file limit is %llu: serving at most "
		         "%u connections instead of %u",
		         (unsigned long long)rl.rlim_cur, fit,
		         *max_connections);
		*max_connections = fit;
	}
}

/* The expiry sweep: at start, then hourly, until stop is set. */
struct sweeper {
	struct core core;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
};

static void *
sweeper_main(void *arg)
{
	struct sweeper *sw = arg;

	log_set_request_id("job-expiry");
	pthread_mutex_lock(&sw->lock);
	while (!sw->stop) {
		struct db_sweep s = { 0 };
		struct timespec next;

		pthread_mutex_unlock(&sw->lock);
		static const struct core_actor job = { "job:expiry" };

		if (core_expiry_sweep(&sw->core, util_now(), false, &job, &s) ==
		    0) {
			if (s.nrenewal_due || s.nexpired)
				log_info("expiry: %zu order(s) renewal_due, "
				         "%zu expired",
				         s.nrenewal_due, s.nexpired);
			db_sweep_clear(&s);
		}
		pthread_mutex_lock(&sw->lock);
		clock_gettime(CLOCK_REALTIME, &next);
		next.tv_sec += SWEEP_INTERVAL_S;
		while (!sw->stop && pthread_cond_timedwait(&sw->wake, &sw->lock,
		                                           &next) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&sw->lock);
	return NULL;
}

static int
serve(struct daemon_config *cfg)
{
	struct db *db = NULL;
	struct workq *slow = NULL;
	struct api_server *srv = NULL;
	unsigned char master[PKI_MASTER_KEY_LEN];
	char url[300], code[64], holder[400];
	const char *allow[DAEMON_MAX_ALLOW_HOSTS + 1];
	struct api_config acfg;
	uint16_t port = 0;
	sigset_t set;
	struct sweeper sw = { .lock = PTHREAD_MUTEX_INITIALIZER,
		              .wake = PTHREAD_COND_INITIALIZER };
	pthread_t sweep_thread;
	bool created = false, sweeping = false;
	int sig = 0, ret, status = 1, lock_fd = -1;

	/* Block the stop signals in every thread; main waits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (daemon_state_dir_prepare(cfg->state_dir) < 0)
		goto done;
	ret =
	    daemon_lock_take(cfg->state_dir, &lock_fd, holder, sizeof(holder));
	if (ret == ERR_CONFLICT) {
		log_error("serve: another amtcertd (%s) serves the state "
		          "directory %s; stop it first, or give this one its "
		          "own --state-dir",
		          holder, cfg->state_dir);
		goto done;
	}
	if (ret < 0) {
		log_error("serve: cannot lock the state directory %s: %s",
		          cfg->state_dir, err_str(ret));
		goto done;
	}
	if (daemon_master_key_load(cfg, master) < 0)
		goto done;
	ret = daemon_db_open(cfg->state_dir, &db);
	if (ret < 0) {
		log_error("serve: cannot open the database in %s: %s",
		          cfg->state_dir, err_str(ret));
		goto done;
	}
	sw.core.db = db;
	sw.core.master_key = master;
	sw.core.renewal_days = cfg->renewal_days;
	if (daemon_admin_token_ensure(db, cfg->state_dir, &created) < 0 ||
	    daemon_roots_seed(db) < 0 || core_uploads_seal_legacy(&sw.core) < 0)
		goto done;
	if (created)
		log_info("serve: created the admin token in %s/admin.token",
		         cfg->state_dir);
	/*
	 * Key generation and PKCS#12 run at the lowest priority (nice 19):
	 * on a busy machine they yield to the requests being answered, and
	 * on an idle one they run as fast as ever. With four RSA-4096 keys
	 * in flight on two cores, GET one order went from 18,800 req/s at
	 * nice 10 to 27,600 at nice 19, and keys were still made.
	 */
	if (workq_create(cfg->workers, 64, 19, &slow) < 0)
		goto done;
	memset(&acfg, 0, sizeof(acfg));
	acfg.db = db;
	acfg.slow = slow;
	acfg.master_key = master;
	acfg.web_dir = cfg->web_dir[0] ? cfg->web_dir : NULL;
	acfg.max_json_body = cfg->max_body;
	acfg.max_upload_body = cfg->max_upload;
	acfg.system_roots = cfg->system_roots[0] ? cfg->system_roots : NULL;
	acfg.max_connections = cfg->max_connections;
	fd_limit_fit(&acfg.max_connections);
	acfg.renewal_days = cfg->renewal_days;
	acfg.threads = cfg->threads;
	acfg.header_timeout = cfg->header_timeout;
	acfg.body_timeout = cfg->body_timeout;
	acfg.state_dir = cfg->state_dir;
	for (size_t k = 0; k < cfg->nallow_hosts; k++)
		allow[k] = cfg->allow_hosts[k];
	allow[cfg->nallow_hosts] = NULL;
	acfg.allow_hosts = allow;
	acfg.max_per_ip = cfg->max_per_ip;
	if (acfg.max_per_ip == DAEMON_PER_IP_AUTO)
		acfg.max_per_ip = daemon_host_is_loopback(cfg->listen_host)
		                      ? 0
		                      : DAEMON_PER_IP_DEFAULT;
	if (api_server_start(&acfg, cfg->listen_host, cfg->listen_port, &srv,
	                     &port) < 0)
		goto done;
	if (pthread_create(&sweep_thread, NULL, sweeper_main, &sw) != 0)
		goto done;
	sweeping = true;
	url_of(cfg->listen_host, port, url, sizeof(url));
	if (daemon_lock_set_url(lock_fd, url) < 0)
		log_warn("serve: cannot write the URL into the lock file");
	log_info("serve: listening on %s (state in %s)", url, cfg->state_dir);
	printf("amtcertd %s listening on %s\n", AMTCERTD_VERSION, url);
	/*
	 * The one-time login link is a credential: printed only to a person
	 * at a terminal, never into a journal or a log file.
	 */
	if (isatty(STDOUT_FILENO)) {
		if (util_token_new(code, sizeof(code)) < 0 ||
		    api_server_set_login_code(srv, code + 5) < 0)
			goto done;
		printf("dashboard (one-time login link): %s#login=%s\n", url,
		       code + 5);
		util_wipe(code, sizeof(code));
	} else {
		printf("dashboard: run \"amtcertd login-link --state-dir %s\" "
		       "for a one-time login link\n",
		       cfg->state_dir);
	}
	printf("API token for scripts: %s/admin.token\n", cfg->state_dir);
	fflush(stdout);

	sigwait(&set, &sig);
	log_info("serve: signal %d, finishing in-flight requests", sig);
	status = 0;
done:
	if (sweeping) {
		pthread_mutex_lock(&sw.lock);
		sw.stop = true;
		pthread_cond_signal(&sw.wake);
		pthread_mutex_unlock(&sw.lock);
		pthread_join(sweep_thread, NULL);
	}
	api_server_stop(srv, SHUTDOWN_GRACE_MS);
	workq_destroy(slow);
	db_close(db);
	daemon_lock_release(lock_fd);
	util_wipe(master, sizeof(master));
	if (status == 0)
		log_info("serve: stopped");
	return status;
}

static int
token_cmd(struct daemon_config *cfg, int argc, char **argv)
{
	const char *sub = argc > 2 ? argv[2] : NULL, *name = NULL, *id = NULL,
	           *why = NULL;
	struct db *db = NULL;
	int i = 3, ret, status = 2;

	if (!sub) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(sub, "revoke") == 0 && argc > 3 && argv[3][0] != '-') {
		id = argv[3];
		i = 4;
	}
	while (i < argc) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
			name = argv[i + 1];
			i += 2;
			continue;
		}
		int at = i;

		if (daemon_config_flag(cfg, argc, argv, &i, &why) < 0) {
			fprintf(stderr, "amtcertd: %s: %s\n", argv[at], why);
			return 2;
		}
	}
	if (daemon_state_dir_prepare(cfg->state_dir) < 0 ||
	    daemon_db_open(cfg->state_dir, &db) < 0) {
		fprintf(stderr, "amtcertd: cannot open the state in %s\n",
		        cfg->state_dir);
		return 1;
	}
	if (strcmp(sub, "create") == 0 && name && *name && strlen(name) <= 64) {
		struct core core = { .db = db };
		struct core_token t;

		ret = core_token_issue(&core, name, true, &t);
		if (ret == ERR_CONFLICT) {
			fprintf(stderr,
			        "amtcertd: a live token named \"%s\" exists\n",
			        name);
			status = 1;
		} else if (ret < 0) {
			status = 1;
		} else {
			printf("id: %s\nname: %s\ntoken: %s\n", t.id, t.name,
			       t.token);
			status = 0;
		}
		core_token_wipe(&t);
	} else if (strcmp(sub, "list") == 0) {
		struct db_token_list *l = NULL;
		char created[32], used[32];

		if (db_token_list(db, &l) < 0) {
			status = 1;
			goto done;
		}
		printf("%-28s %-24s %-20s %-20s %s\n", "ID", "NAME", "CREATED",
		       "LAST USED", "STATUS");
		for (size_t k = 0; k < l->count; k++) {
			const struct db_token *t = &l->items[k];
			util_time_format(t->created_at, created,
			                 sizeof(created));
			if (t->last_used_at)
				util_time_format(t->last_used_at, used,
				                 sizeof(used));
			else
				snprintf(used, sizeof(used), "never");
			printf("%-28s %-24s %-20s %-20s %s\n", t->id, t->name,
			       created, used, t->revoked ? "revoked" : "live");
		}
		db_token_list_free(l);
		status = 0;
	} else if (strcmp(sub, "revoke") == 0 && id) {
		ret = db_token_revoke(db, id, util_now());
		if (ret == ERR_NOT_FOUND) {
			fprintf(stderr, "amtcertd: no live token %s\n", id);
			status = 1;
		} else {
			status = ret < 0 ? 1 : 0;
			if (ret == 0)
				printf("revoked %s\n", id);
		}
	} else {
		fputs(usage, stderr);
	}
done:
	db_close(db);
	return status;
}

/*
 * amtcertd login-link: a fresh one-time dashboard login link for the
 * daemon that serves the state directory, valid once for
 * API_LOGIN_CODE_TTL seconds. Only who can write the state directory can
 * mint one.
 */
static int
login_link_cmd(struct daemon_config *cfg, int argc, char **argv)
{
	char pid[32] = "", url[300] = "", code[64];
	const char *why = NULL;
	int ret;

	for (int i = 2, at = 2; i < argc; at = i) {
		if (daemon_config_flag(cfg, argc, argv, &i, &why) < 0) {
			fprintf(stderr, "amtcertd: %s: %s\n", argv[at], why);
			return 2;
		}
	}
	ret = daemon_lock_holder(cfg->state_dir, pid, sizeof(pid), url,
	                         sizeof(url));
	if (ret < 0 || !url[0]) {
		fprintf(stderr,
		        "amtcertd: no amtcertd serves %s (start it with "
		        "\"amtcertd serve --state-dir %s\")\n",
		        cfg->state_dir, cfg->state_dir);
		return 1;
	}
	ret = daemon_login_code_mint(cfg->state_dir, code, sizeof(code));
	if (ret < 0) {
		fprintf(stderr,
		        "amtcertd: cannot write a login code into %s: %s\n",
		        cfg->state_dir, err_str(ret));
		return 1;
	}
	printf("%s#login=%s\n", url, code);
	printf("(valid once, for %d minutes; amtcertd pid %s)\n",
	       API_LOGIN_CODE_TTL / 60, pid);
	util_wipe(code, sizeof(code));
	return 0;
}

int
main(int argc, char **argv)
{
	struct daemon_config cfg;
	const char *why = NULL;
	int status;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("amtcertd %s\n", AMTCERTD_VERSION);
		return 0;
	}
	if (daemon_config_defaults(&cfg, &why) < 0) {
		fprintf(stderr, "amtcertd: environment: %s\n", why);
		return 2;
	}
	if (pki_init() < 0) {
		fprintf(stderr, "amtcertd: crypto library failed to start\n");
		return 1;
	}
	if (strcmp(argv[1], "serve") == 0) {
		for (int i = 2, at = 2; i < argc; at = i) {
			if (strcmp(argv[i], "--help") == 0) {
				fputs(usage, stdout);
				pki_deinit();
				return 0;
			}
			if (daemon_config_flag(&cfg, argc, argv, &i, &why) <
			    0) {
				fprintf(stderr, "amtcertd: %s: %s\n", argv[at],
				        why);
				pki_deinit();
				return 2;
			}
		}
		log_set_level(level_of(cfg.log_level));
		status = serve(&cfg);
	} else if (strcmp(argv[1], "token") == 0) {
		log_set_level(LOG_LEVEL_WARN);
		status = token_cmd(&cfg, argc, argv);
	} else if (strcmp(argv[1], "check") == 0) {
		log_set_level(LOG_LEVEL_WARN);
		status = daemon_check_cmd(&cfg, argc, argv);
	} else if (strcmp(argv[1], "login-link") == 0) {
		log_set_level(LOG_LEVEL_WARN);
		status = login_link_cmd(&cfg, argc, argv);
	} else {
		fprintf(stderr, "amtcertd: unknown command \"%s\"\n%s", argv[1],
		        usage);
		status = 2;
	}
	pki_deinit();
	return status;
}
