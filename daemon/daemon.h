/*
 * daemon.h: process life: configuration from flags and the environment,
 * the state directory, the master key and the first admin token.
 */
#ifndef AMTCERTD_DAEMON_H
#define AMTCERTD_DAEMON_H

#include "pki/pki.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/*
 * max_per_ip when no flag set it: none on a loopback address (every client
 * there is 127.0.0.1 or ::1, so a per-address limit would only be a second
 * global one), DAEMON_PER_IP_DEFAULT elsewhere.
 */
#define DAEMON_PER_IP_AUTO    0xffffffffu
#define DAEMON_PER_IP_DEFAULT 256u

/* --allow-host names at most. */
#define DAEMON_MAX_ALLOW_HOSTS 16

struct daemon_config {
	char listen_host[256];
	uint16_t listen_port;
	char state_dir[1024];
	char web_dir[1024]; /* "" = embedded */
	size_t max_body;
	size_t max_upload;
	unsigned renewal_days;   /* renewal window of the expiry sweep */
	char system_roots[1024]; /* "" = no system trust store */
	unsigned workers;
	unsigned threads;         /* event-loop threads of the server */
	unsigned max_connections; /* open at once */
	unsigned max_per_ip;      /* 0: none; DAEMON_PER_IP_AUTO: by address */
	unsigned header_timeout;  /* seconds to send a request head */
	unsigned body_timeout;    /* seconds to send its body after it */
	/* Host names accepted besides the listen names (--allow-host) */
	char allow_hosts[DAEMON_MAX_ALLOW_HOSTS][256];
	size_t nallow_hosts;
	char log_level[8];
	char credentials_dir[1024]; /* systemd CREDENTIALS_DIRECTORY or "" */
};

/* Fills cfg with the embedded defaults, then the environment. */
int daemon_config_defaults(struct daemon_config *cfg, const char **why);

/*
 * Applies one flag (argv[*i], and its value in argv[*i + 1] unless given
 * as --flag=value). Advances *i past what it used. ERR_INVALID with *why
 * for an unknown flag or a bad value.
 */
int daemon_config_flag(struct daemon_config *cfg, int argc, char **argv, int *i,
                       const char **why);

/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT". ERR_INVALID. */
int daemon_parse_listen(const char *s, char *host, size_t host_size,
                        uint16_t *port);

/* Creates the state directory 0700 (and tightens an existing one). */
int daemon_state_dir_prepare(const char *dir);

/*
 * Loads the 32-byte master key: CREDENTIALS_DIRECTORY/master.key when
 * present, else STATE_DIR/master.key, created 0600 on first start.
 * Raw 32 bytes or 64 hex characters. ERR_IO, ERR_INVALID.
 */
int daemon_master_key_load(const struct daemon_config *cfg,
                           unsigned char key[PKI_MASTER_KEY_LEN]);

/*
 * When no live admin token exists, creates one named "admin" and writes it
 * to STATE_DIR/admin.token (0600). *created tells whether it did.
 */
int daemon_admin_token_ensure(struct db *db, const char *state_dir,
                              bool *created);

/*
 * Puts the built-in seed list of AMT root hashes into the database
 * (entries already there keep the user's enabled choice). Cited entries
 * start disabled.
 */
int daemon_roots_seed(struct db *db);

/* Whether host (a --listen host) is a loopback address or "localhost". */
bool daemon_host_is_loopback(const char *host);

/* Opens STATE_DIR/amtcertd.db. */
int daemon_db_open(const char *state_dir, struct db **out);

/*
 * `amtcertd check [--state-dir DIR]` (daemon/check.c): checks the store
 * and prints what it found. Exit status: 0 clean, 1 problems, 2 usage.
 */
int daemon_check_cmd(struct daemon_config *cfg, int argc, char **argv);

/* The lock file in the state directory, held by the serving daemon. */
#define DAEMON_LOCK_FILE "amtcertd.lock"

/*
 * Takes the lock on STATE_DIR/amtcertd.lock (flock, held until the
 * process exits or daemon_lock_release) and writes "pid N" into it.
 * When another process holds it: ERR_CONFLICT, with what the file says
 * of the holder (its pid and URL) in holder. ERR_IO otherwise.
 */
int daemon_lock_take(const char *state_dir, int *fd, char *holder,
                     size_t holder_size);

/* Adds the URL the daemon listens on to its lock file. */
int daemon_lock_set_url(int fd, const char *url);

/* Releases and closes the lock (-1 is a no-op). */
void daemon_lock_release(int fd);

/*
 * Whether a daemon holds the lock of state_dir; when so, the URL it
 * listens on (from its lock file) in url. ERR_NOT_FOUND when none runs.
 */
int daemon_lock_holder(const char *state_dir, char *pid, size_t pid_size,
                       char *url, size_t url_size);

/*
 * Mints a one-time login code for the daemon on state_dir: writes its
 * SHA-256 and expiry to STATE_DIR/login-code (0600, replacing an older
 * one) and copies the code into code. ERR_IO, ERR_FULL.
 */
int daemon_login_code_mint(const char *state_dir, char *code, size_t code_size);

#endif
