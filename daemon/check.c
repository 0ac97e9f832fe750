/*
 * check.c: `amtcertd check [--state-dir DIR]`: checks the store with the
 * master key (core_store_check()), prints each problem and a summary, and
 * exits 0 when nothing is wrong, 1 when something is (or the state cannot
 * be read), 2 on a usage error. Creates nothing: a state directory without
 * a database or a master key is an error, not a new state.
 */
#include "common/err.h"
#include "common/util.h"
#include "core/core.h"
#include "daemon/daemon.h"
#include "db/db.h"
#include "pki/pki.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
print_problem(void *arg, const char *what, const char *detail)
{
	(void)arg;
	printf("problem: %s: %s\n", what, detail);
}

/* Whether the file exists, said on stderr when it does not. */
static bool
present(const char *dir, const char *name, const char *what)
{
	char path[1100];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &st) == 0)
		return true;
	fprintf(stderr, "amtcertd: check: no %s at %s\n", what, path);
	return false;
}

int
daemon_check_cmd(struct daemon_config *cfg, int argc, char **argv)
{
	unsigned char master[PKI_MASTER_KEY_LEN];
	struct core_check_result r;
	struct db *db = NULL;
	struct core core;
	const char *why = NULL;
	char cred[1100];
	bool have_key;
	int ret, status = 1;

	memset(&r, 0, sizeof(r));
	for (int i = 2, at = 2; i < argc; at = i) {
		if (daemon_config_flag(cfg, argc, argv, &i, &why) < 0) {
			fprintf(stderr, "amtcertd: %s: %s\n", argv[at], why);
			return 2;
		}
	}
	snprintf(cred, sizeof(cred), "%s/master.key", cfg->credentials_dir);
	have_key = cfg->credentials_dir[0] && access(cred, R_OK) == 0;
	if (!present(cfg->state_dir, "amtcertd.db", "database") ||
	    (!have_key && !present(cfg->state_dir, "master.key", "master key")))
		return 1;
	if (daemon_master_key_load(cfg, master) < 0) {
		fprintf(stderr,
		        "amtcertd: check: cannot read the master key\n");
		goto done;
	}
	ret = daemon_db_open(cfg->state_dir, &db);
	if (ret < 0) {
		fprintf(stderr,
		        "amtcertd: check: cannot open the database in "
		        "%s: %s\n",
		        cfg->state_dir, err_str(ret));
		goto done;
	}
	memset(&core, 0, sizeof(core));
	core.db = db;
	core.master_key = master;
	printf("checking %s/amtcertd.db\n", cfg->state_dir);
	fflush(stdout);
	ret = core_store_check(&core, print_problem, NULL, &r);
	if (ret < 0) {
		fprintf(stderr, "amtcertd: check: stopped: %s\n", err_str(ret));
		goto done;
	}
	if (r.integrity && r.integrity[0])
		printf("%s", r.integrity);
	printf("integrity: %s\n", r.integrity_ok ? "ok" : "FAILED");
	printf("orders: %zu (CSRs matching their key: %zu, certificates "
	       "matching it: %zu)\n",
	       r.orders, r.csrs_ok, r.leaves_ok);
	printf("sealed keys: %zu (decrypt and match their order: %zu)\n",
	       r.keys, r.keys_ok);
	printf("uploads: %zu (decrypt to the recorded file: %zu, in clear: "
	       "%zu)\n",
	       r.uploads, r.uploads_ok, r.clear_uploads);
	printf("problems: %zu\n", r.problems);
	status = r.problems ? 1 : 0;
done:
	core_check_result_clear(&r);
	db_close(db);
	util_wipe(master, sizeof(master));
	return status;
}
