#!/usr/bin/env bash
# Makes the seed corpus of fuzz_p12 (tests/fuzz/corpus/p12/): small PFX
# files, password "fuzz-password" (fuzz_p12.c's SEED_PASSWORD) unless the
# name says otherwise, in both export profiles (compat: 3DES PKCS#12 PBE;
# modern: PBES2 AES-256-CBC) at small iteration counts so that fuzzing
# spends its time parsing, not deriving keys. Needs the openssl tool.
# Usage: tests/fuzz/make-p12-seeds.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-corpus/p12}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
pw=pass:fuzz-password

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" \
	-out "$tmp/leaf.pem" -days 3650 -subj "/CN=rcs.vpro.example.com" \
	-addext "subjectAltName=DNS:rcs.vpro.example.com" \
	-addext "extendedKeyUsage=serverAuth,2.16.840.1.113741.1.2.3" \
	2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/ca.key" \
	-out "$tmp/ca.pem" -days 3650 -subj "/CN=Fuzz Root" 2>/dev/null

export_p12() { # name, extra openssl pkcs12 arguments...
	local name=$1
	shift
	openssl pkcs12 -export -inkey "$tmp/key.pem" -in "$tmp/leaf.pem" \
		-name rcs -out "$out/$name" "$@"
}

for iter in 1 16 1000; do
	export_p12 compat-$iter.p12 -passout $pw -iter "$iter" \
		-certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -macalg sha256
	export_p12 modern-$iter.p12 -passout $pw -iter "$iter" \
		-certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256
done
export_p12 modern-chain-16.p12 -passout $pw -iter 16 -certfile "$tmp/ca.pem" \
	-certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256
export_p12 compat-sha1mac-16.p12 -passout $pw -iter 16 \
	-certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -macalg sha1
export_p12 nomac-16.p12 -passout $pw -iter 16 -nomac \
	-certpbe AES-256-CBC -keypbe AES-256-CBC
export_p12 nokeys-16.p12 -passout $pw -iter 16 -nokeys \
	-certpbe AES-256-CBC
export_p12 clear-certs-16.p12 -passout $pw -iter 16 -certpbe NONE \
	-keypbe AES-256-CBC -macalg sha256
export_p12 empty-password-16.p12 -passout pass: -iter 16 \
	-certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256
export_p12 wrong-password-16.p12 -passout pass:another-password -iter 16 \
	-certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256
openssl pkcs12 -export -nokeys -in "$tmp/ca.pem" -passout $pw -iter 16 \
	-certpbe AES-256-CBC -macalg sha256 -out "$out/ca-only-16.p12"
ls -l "$out"
