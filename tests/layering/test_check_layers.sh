#!/usr/bin/env bash
# The layering rule of the build can fail: scripts/check-layers.sh passes
# on the real libraries and refuses a library of each module that calls
# what its layer must not.
# Arguments: the script, then the real libraries.
set -uo pipefail
check=$1
shift
fail=0

if ! "$check" "$@"; then
	echo "FAIL: the real libraries break the layering" >&2
	fail=1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# module  forbidden-symbol (one each: a library, and a layer above)
while read -r module symbol; do
	dir=$tmp/$module-$symbol
	mkdir -p "$dir"
	printf 'int %s(void);\nint probe(void);\nint probe(void) { return %s(); }\n' \
		"$symbol" "$symbol" >"$dir/probe.c"
	cc -c "$dir/probe.c" -o "$dir/probe.o" &&
		ar rc "$dir/libamt_$module.a" "$dir/probe.o" || exit 1
	if "$check" "$dir/libamt_$module.a" 2>/dev/null; then
		echo "FAIL: $module/ calling $symbol was not refused" >&2
		fail=1
	fi
done <<'LIST'
common db_order_get
state pki_cert_parse
pki sqlite3_open
pki MHD_start_daemon
pki db_order_get
db json_loads
db core_order_upload
db gnutls_x509_crt_init
core MHD_queue_response
core sqlite3_step
core api_reply_json
core PKCS12_create_ex
core OPENSSL_sk_push
db EVP_sha256
api d2i_PKCS12
common ERR_get_error
api sqlite3_prepare_v2
api gnutls_x509_crt_import
api db_order_insert
api db_order_upload_apply
api db_amt_root_insert
api db_token_insert
LIST

# and what a layer may call passes
dir=$tmp/ok
mkdir -p "$dir"
printf 'int db_order_get(void);\nint order_state_next(void);\nint probe(void);\nint probe(void) { return db_order_get() + order_state_next(); }\n' >"$dir/probe.c"
cc -c "$dir/probe.c" -o "$dir/probe.o" && ar rc "$dir/libamt_core.a" "$dir/probe.o"
if ! "$check" "$dir/libamt_core.a"; then
	echo "FAIL: core/ reading through db/ was refused" >&2
	fail=1
fi

# the same for #include lines: one tree per case
while read -r module header verdict; do
	dir=$tmp/src-$module-${header//[^a-z]/_}
	mkdir -p "$dir/$module"
	printf '#include %s\n' "$header" >"$dir/$module/probe.c"
	if "$check" --src "$dir" 2>/dev/null; then got=pass; else got=refuse; fi
	if [ "$got" != "$verdict" ]; then
		echo "FAIL: $module/ including $header: $got, want $verdict" >&2
		fail=1
	fi
done <<'LIST'
pki <sqlite3.h> refuse
pki <microhttpd.h> refuse
pki "db/db.h" refuse
pki <gnutls/x509.h> pass
pki <openssl/pkcs12.h> pass
core <openssl/evp.h> refuse
api <openssl/pkcs12.h> refuse
db <openssl/x509.h> refuse
common <openssl/err.h> refuse
db <jansson.h> refuse
db "core/core.h" refuse
db "core/state.h" pass
core <jansson.h> refuse
core "api/internal.h" refuse
core "db/db.h" pass
api <sqlite3.h> refuse
api "db/internal.h" refuse
api "core/core.h" pass
common "pki/pki.h" refuse
LIST
exit $fail
