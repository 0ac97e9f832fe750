#!/usr/bin/env bash
# Fails when a module's static library calls what its layer must not:
#   common  nothing of ours, no library
#   state   nothing of ours but itself, no library (db/ links it)
#   pki     no HTTP, JSON, SQL; nothing of db/, core/, api/
#   db      no HTTP, JSON, X.509; nothing of pki/, core/ (but the state
#           machine), api/
#   core    no HTTP, JSON, SQL, GnuTLS; nothing of api/
#   api     no SQL, GnuTLS, libarchive; every write goes through core/
#           (it may read through db/)
# OpenSSL's libcrypto (it writes the PFX, pki/pkcs12.c) is pki/'s alone:
# its symbols and <openssl/...> headers are refused in every other module.
# Arguments: [--src DIR] then the libraries (libamt_<module>.a). Reads
# `nm -u`; with --src also refuses #include lines that cross a layer (a
# header pulled in for its types is a dependency too).
set -euo pipefail

src=""
if [ "${1:-}" = "--src" ]; then
	src=$2
	shift 2
fi

# module directory -> extended regex of forbidden #include targets
forbidden_includes() {
	case "$1" in
	common) echo '[<"](microhttpd|jansson|sqlite3|gnutls/|openssl/|archive|pki/|db/|core/|api/|daemon/)' ;;
	pki) echo '[<"](microhttpd|jansson|sqlite3|db/|core/|api/|daemon/)' ;;
	db) echo '[<"](microhttpd|jansson|gnutls/|openssl/|archive|pki/|api/|daemon/)|"core/(core|internal)\.h' ;;
	core) echo '[<"](microhttpd|jansson|sqlite3|gnutls/|openssl/|archive|api/|daemon/)' ;;
	api) echo '[<"](sqlite3|gnutls/|openssl/|archive|daemon/|db/internal|pki/internal|core/internal)' ;;
	esac
}

forbidden() { # module -> extended regex of forbidden undefined symbols
	# OpenSSL's prefixes (libcrypto and libssl)
	local ossl='PKCS[0-9]+_|EVP_|OSSL_|OPENSSL_|X509|d2i_|i2d_|BIO_|ERR_|PEM_|ASN1_|OBJ_|sk_|RAND_|CRYPTO_|BN_|RSA_|EC_|SSL_'
	local lib="MHD_|json_|sqlite3_|gnutls_|archive_|$ossl"
	local ours='db_|pki_|core_|api_|order_state|order_trigger|order_transitions'
	case "$1" in
	common | state) echo "^($lib|$ours)" ;;
	pki) echo "^(MHD_|json_|sqlite3_|db_|core_|api_|order_)" ;;
	db) echo "^(MHD_|json_|gnutls_|archive_|$ossl|pki_|core_|api_)" ;;
	core) echo "^(MHD_|json_|sqlite3_|gnutls_|archive_|$ossl|api_)" ;;
	api) echo "^(sqlite3_|gnutls_|archive_|$ossl|db_(order_(insert|update|transition|upload_apply|cert_detach|event)|verification_insert|orders_expiry_sweep|pool_(add|remove)|uploads_seal_clear|amt_root_(insert|apply|delete|set_enabled)|token_(insert|revoke)|open|close)$)" ;;
	*) echo "" ;;
	esac
}

status=0
for lib in "$@"; do
	name=$(basename "$lib" .a)
	module=${name#libamt_}
	re=$(forbidden "$module")
	[ -n "$re" ] || continue
	bad=$(nm -u "$lib" 2>/dev/null | awk '$1 == "U" { print $2 }' |
		grep -E "$re" | sort -u || true)
	if [ -n "$bad" ]; then
		echo "check-layers: $module/ calls what its layer must not:" >&2
		echo "$bad" | sed 's/^/  /' >&2
		status=1
	fi
done
if [ -n "$src" ]; then
	for module in common pki db core api; do
		re=$(forbidden_includes "$module")
		bad=$(grep -HnE "^#[[:space:]]*include[[:space:]]*($re)" \
			"$src/$module"/*.[ch] 2>/dev/null || true)
		if [ -n "$bad" ]; then
			echo "check-layers: $module/ includes what its layer must not:" >&2
			echo "$bad" | sed 's/^/  /' >&2
			status=1
		fi
	done
fi
exit $status
