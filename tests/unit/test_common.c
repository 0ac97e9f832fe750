/* Unit tests of common/ and daemon/config.c: time, ids, tokens, the
 * worker pool, listen addresses, the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"
#include "daemon/daemon.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void
test_time_parse(void **state)
{
	static const struct {
		const char *in;
		int ok;
		int64_t want;
	} cases[] = {
		{ "1970-01-01T00:00:00Z", 1, 0 },
		{ "2026-11-25T10:00:00Z", 1, 1795600800 },
		{ "2026-11-25T12:00:00+02:00", 1, 1795600800 },
		{ "2026-11-25T05:30:00-04:30", 1, 1795600800 },
		{ "2026-11-25T10:00:00.123Z", 1, 1795600800 },
		{ "2024-02-29T00:00:00Z", 1, 1709164800 },
		{ "2023-02-29T00:00:00Z", 0, 0 },
		{ "2026-13-01T00:00:00Z", 0, 0 },
		{ "2026-11-25 10:00:00Z", 0, 0 },
		{ "2026-11-25T10:00:00", 0, 0 },
		{ "2026-11-25T10:00:00Zjunk", 0, 0 },
		{ "", 0, 0 },
		{ "2026-11-25T24:00:00Z", 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t t = -1;
		int ret = util_time_parse(cases[i].in, &t);
		if (cases[i].ok) {
			assert_int_equal(ret, 0);
			assert_int_equal(t, cases[i].want);
		} else {
			assert_int_equal(ret, ERR_INVALID);
			assert_int_equal(t, -1); /* untouched on error */
		}
	}
}

static void
test_wipe(void **state)
{
	unsigned char buf[67];
	char *secret = strdup("a secret");

	(void)state;
	memset(buf, 0xa5, sizeof(buf));
	util_wipe(buf + 1, sizeof(buf) - 2); /* odd start and length */
	assert_int_equal(buf[0], 0xa5);
	for (size_t i = 1; i < sizeof(buf) - 1; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[sizeof(buf) - 1], 0xa5);
	util_wipe(NULL, 5); /* no-op, no crash */
	util_wipe(buf, 0);
	assert_non_null(secret);
	util_free_secret_str(secret);
	util_free_secret_str(NULL);
}

static void
test_time_format(void **state)
{
	char buf[32];

	(void)state;
	util_time_format(1795600800, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-25T10:00:00Z");
}

static void
test_ids_and_tokens(void **state)
{
	char a[40], b[40], t1[64], t2[64];

	(void)state;
	assert_int_equal(util_id_new("ord", a, sizeof(a)), 0);
	assert_int_equal(util_id_new("ord", b, sizeof(b)), 0);
	assert_int_equal(strlen(a), 4 + 24);
	assert_memory_equal(a, "ord_", 4);
	assert_string_not_equal(a, b);
	assert_int_equal(util_id_new("ord", a, 10), ERR_INVALID);

	assert_int_equal(util_token_new(t1, sizeof(t1)), 0);
	assert_int_equal(util_token_new(t2, sizeof(t2)), 0);
	assert_int_equal(strlen(t1), 48);
	assert_memory_equal(t1, "amtc_", 5);
	assert_string_not_equal(t1, t2);
	for (size_t i = 5; i < 48; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
		                       "nopqrstuvwxyz0123456789-_",
		                       t1[i]));
	assert_int_equal(util_token_new(t1, 20), ERR_INVALID);
}

static void
test_hex(void **state)
{
	const unsigned char in[] = { 0x00, 0x9f, 0xff };
	char out[7];

	(void)state;
	util_hex(in, sizeof(in), out);
	assert_string_equal(out, "009fff");
}

struct counter {
	pthread_mutex_t lock;
	int running, max_running, done;
};

static void
slow_job(void *arg)
{
	struct counter *c = arg;

	pthread_mutex_lock(&c->lock);
	c->running++;
	if (c->running > c->max_running)
		c->max_running = c->running;
	pthread_mutex_unlock(&c->lock);
	usleep(20000);
	pthread_mutex_lock(&c->lock);
	c->running--;
	c->done++;
	pthread_mutex_unlock(&c->lock);
}

struct caller {
	struct workq *q;
	struct counter *c;
	int ret;
};

static void *
caller_main(void *p)
{
	struct caller *cl = p;

	cl->ret = workq_run(cl->q, slow_job, cl->c);
	return NULL;
}

/* Jobs run on the pool, at most nthreads at once, and the caller waits. */
static void
test_workq_bounds_concurrency(void **state)
{
	struct workq *q = NULL;
	struct counter c = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct caller cl[6];
	pthread_t th[6];

	(void)state;
	assert_int_equal(workq_create(2, 16, 5, &q), 0);
	for (int i = 0; i < 6; i++) {
		cl[i] = (struct caller){ .q = q, .c = &c };
		pthread_create(&th[i], NULL, caller_main, &cl[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(cl[i].ret, 0);
	}
	assert_int_equal(c.done, 6);
	assert_true(c.max_running <= 2);
	assert_true(c.max_running >= 1);
	workq_destroy(q);
	assert_int_equal(workq_create(0, 1, 0, &q), ERR_INVALID);
}

/* A full queue refuses with ERR_BUSY instead of growing without bound. */
static void
test_workq_busy(void **state)
{
	struct workq *q = NULL;
	struct counter c = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct caller cl[8];
	pthread_t th[8];
	int busy = 0;

	(void)state;
	assert_int_equal(workq_create(1, 1, 0, &q), 0);
	for (int i = 0; i < 8; i++) {
		cl[i] = (struct caller){ .q = q, .c = &c };
		pthread_create(&th[i], NULL, caller_main, &cl[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		busy += cl[i].ret == ERR_BUSY;
	}
	assert_true(busy > 0);
	assert_int_equal(c.done + busy, 8);
	workq_destroy(q);
}

static void
test_parse_listen(void **state)
{
	static const struct {
		const char *in;
		int ok;
		const char *host;
		unsigned port;
	} cases[] = {
		{ "127.0.0.1:8080", 1, "127.0.0.1", 8080 },
		{ "127.0.0.1:0", 1, "127.0.0.1", 0 },
		{ "[::1]:9000", 1, "::1", 9000 },
		{ ":8443", 1, "127.0.0.1", 8443 },
		{ "localhost:80", 1, "localhost", 80 },
		{ "127.0.0.1", 0, NULL, 0 },
		{ "127.0.0.1:65536", 0, NULL, 0 },
		{ "127.0.0.1:-1", 0, NULL, 0 },
		{ "127.0.0.1:80x", 0, NULL, 0 },
		{ "::1:80", 0, NULL, 0 },
		{ "", 0, NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char host[64] = "untouched";
		uint16_t port = 7;
		int ret =
		    daemon_parse_listen(cases[i].in, host, sizeof(host), &port);
		if (cases[i].ok) {
			assert_int_equal(ret, 0);
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		} else {
			assert_int_equal(ret, ERR_INVALID);
			assert_string_equal(host, "untouched");
		}
	}
}

static void
test_config_env_and_flags(void **state)
{
	struct daemon_config cfg;
	const char *why = NULL;
	char *argv[] = { (char *)"amtcertd",
		         (char *)"serve",
		         (char *)"--listen",
		         (char *)"127.0.0.1:0",
		         (char *)"--max-body=2048",
		         (char *)"--bogus",
		         NULL };
	int i = 2;

	(void)state;
	setenv("AMTCERTD_STATE_DIR", "/tmp/from-env", 1);
	setenv("STATE_DIRECTORY", "/var/lib/amtcertd", 1);
	assert_int_equal(daemon_config_defaults(&cfg, &why), 0);
	assert_string_equal(cfg.state_dir, "/tmp/from-env");
	unsetenv("AMTCERTD_STATE_DIR");
	assert_int_equal(daemon_config_defaults(&cfg, &why), 0);
	assert_string_equal(cfg.state_dir, "/var/lib/amtcertd");
	unsetenv("STATE_DIRECTORY");
	assert_int_equal(daemon_config_defaults(&cfg, &why), 0);
	assert_string_equal(cfg.state_dir, "amtcertd-state");
	assert_string_equal(cfg.listen_host, "127.0.0.1");
	assert_int_equal(cfg.listen_port, 8080);

	assert_int_equal(daemon_config_flag(&cfg, 6, argv, &i, &why), 0);
	assert_int_equal(i, 4);
	assert_int_equal(cfg.listen_port, 0);
	assert_int_equal(daemon_config_flag(&cfg, 6, argv, &i, &why), 0);
	assert_int_equal(cfg.max_body, 2048);
	assert_int_equal(daemon_config_flag(&cfg, 6, argv, &i, &why),
	                 ERR_INVALID);
	assert_non_null(why);

	setenv("AMTCERTD_LISTEN", "nonsense", 1);
	assert_int_equal(daemon_config_defaults(&cfg, &why), ERR_INVALID);
	unsetenv("AMTCERTD_LISTEN");
}

/* ---- the log ------------------------------------------------------------ */

/* A fresh empty file for stderr to go to; its path in path. */
static int
log_file_open(char *path, size_t n)
{
	const char *dir = getenv("AMTCERTD_TEST_TMP");
	int fd;

	snprintf(path, n, "%s/log-XXXXXX", dir && *dir ? dir : "/tmp");
	if (dir && *dir)
		mkdir(dir, 0700);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	return fd;
}

/* Sends fd 2 to fd; returns the old fd 2, for log_capture_end. */
static int
log_capture_begin(int fd)
{
	int saved;

	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
	return saved;
}

static void
log_capture_end(int saved)
{
	dup2(saved, STDERR_FILENO);
	close(saved);
}

/* The whole file at path, NUL-terminated (caller frees). */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* Whether line (up to its newline) is "<time> level=<lvl> req=<req> msg=". */
static bool
log_line_head(const char *line, const char *lvl, const char *req)
{
	char head[128];
	int64_t t;
	char ts[21];

	memcpy(ts, line, 20);
	ts[20] = '\0';
	if (util_time_parse(ts, &t) != 0 || ts[19] != 'Z')
		return false;
	snprintf(head, sizeof(head), " level=%s req=%s msg=\"", lvl, req);
	return strncmp(line + 20, head, strlen(head)) == 0;
}

static void
test_log_format(void **state)
{
	char path[512], big[1500], *text, *l;
	int fd, saved;

	(void)state;
	fd = log_file_open(path, sizeof(path));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	saved = log_capture_begin(fd);
	log_set_level(LOG_LEVEL_INFO);
	log_set_request_id(NULL);
	log_info("plain %d", 42);
	log_debug("not shown at info");
	log_set_request_id("r-0123456789ab");
	log_warn("two\nlines\rin one");
	log_set_request_id("an-id-longer-than-thirty-one-characters");
	log_error("%s", big);
	log_set_request_id(NULL);
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("shown at debug");
	log_set_level(LOG_LEVEL_INFO);
	log_capture_end(saved);
	close(fd);

	text = slurp(path, NULL);
	unlink(path);
	l = text;
	assert_true(log_line_head(l, "info", "-"));
	assert_non_null(strstr(l, "msg=\"plain 42\"\n"));
	l = strchr(l, '\n') + 1;
	assert_true(log_line_head(l, "warn", "r-0123456789ab"));
	assert_true(
	    strncmp(strstr(l, "msg="), "msg=\"two lines in one\"\n", 23) == 0);
	l = strchr(l, '\n') + 1;
	/* the id is cut at 31 bytes, the message at 1023 */
	assert_true(
	    log_line_head(l, "error", "an-id-longer-than-thirty-one-ch"));
	assert_int_equal(strchr(l, '\n') - strstr(l, "msg=\""), 5 + 1023 + 1);
	l = strchr(l, '\n') + 1;
	assert_true(log_line_head(l, "debug", "-"));
	assert_non_null(strstr(l, "msg=\"shown at debug\"\n"));
	l = strchr(l, '\n') + 1;
	assert_int_equal(*l, '\0'); /* and nothing at debug level before */
	free(text);
}

#define LOG_THREADS 4
#define LOG_LINES   400

static void *
log_thread(void *arg)
{
	int k = (int)(intptr_t)arg;
	char id[16], pad[301];

	memset(pad, 'a' + k, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(id, sizeof(id), "t%d", k);
	log_set_request_id(id);
	for (int i = 0; i < LOG_LINES; i++)
		log_info("thread %d line %d %s", k, i, pad);
	log_set_request_id(NULL);
	return NULL;
}

/* Lines of threads that log at once arrive whole, each exactly once. */
static void
test_log_threads(void **state)
{
	pthread_t th[LOG_THREADS];
	char path[512], *text, *l;
	static bool seen[LOG_THREADS][LOG_LINES];
	int fd, saved, count = 0;

	(void)state;
	fd = log_file_open(path, sizeof(path));
	saved = log_capture_begin(fd);
	for (int k = 0; k < LOG_THREADS; k++)
		pthread_create(&th[k], NULL, log_thread, (void *)(intptr_t)k);
	for (int k = 0; k < LOG_THREADS; k++)
		pthread_join(th[k], NULL);
	log_capture_end(saved);
	close(fd);

	text = slurp(path, NULL);
	unlink(path);
	for (l = text; *l; l = strchr(l, '\n') + 1) {
		char req[8], want[400], *msg = strstr(l, " msg=\"");
		size_t n;
		int k, i;

		assert_non_null(strchr(l, '\n'));
		assert_non_null(msg);
		assert_int_equal(
		    sscanf(msg, " msg=\"thread %d line %d", &k, &i), 2);
		assert_true(k >= 0 && k < LOG_THREADS && i >= 0 &&
		            i < LOG_LINES);
		assert_false(seen[k][i]);
		seen[k][i] = true;
		snprintf(req, sizeof(req), "t%d", k);
		assert_true(log_line_head(l, "info", req));
		/* the whole message, then the end of the line */
		n = (size_t)snprintf(want, sizeof(want),
		                     " msg=\"thread %d line %d ", k, i);
		memset(want + n, 'a' + k, 300);
		memcpy(want + n + 300, "\"\n", 3);
		assert_memory_equal(msg, want, n + 302);
		count++;
	}
	assert_int_equal(count, LOG_THREADS * LOG_LINES);
	free(text);
}

/* A line logged just before the process is killed is in the file. */
static void
test_log_survives_kill(void **state)
{
	char path[512], *text;
	int fd, status;
	pid_t pid;

	(void)state;
	fd = log_file_open(path, sizeof(path));
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fd, STDERR_FILENO);
		log_set_level(LOG_LEVEL_INFO);
		log_info("last words");
		raise(SIGKILL);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(fd);
	text = slurp(path, NULL);
	unlink(path);
	assert_non_null(strstr(text, " msg=\"last words\"\n"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_wipe),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_ids_and_tokens),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_workq_bounds_concurrency),
		cmocka_unit_test(test_workq_busy),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_config_env_and_flags),
		cmocka_unit_test(test_log_format),
		cmocka_unit_test(test_log_threads),
		cmocka_unit_test(test_log_survives_kill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
