// decode reads a PFX with software.sslmate.com/src/go-pkcs12 DecodeChain,
// the decoder of rpc-go and the DMT Console, and prints a JSON summary:
//
//	decode FILE PASSWORD
//
// Built by tests/interop/test_pfx_interop.py against Debian's packages
// (golang-go, golang-sslmate-src-go-pkcs12-dev), offline:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$TMP \
//	  go build -o $TMP/decode tests/interop/go/decode.go
//
// Exit 0 with ok=true when DecodeChain accepted the file, 1 with ok=false
// and its error otherwise, 2 on usage.
package main

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

type summary struct {
	OK          bool     `json:"ok"`
	Error       string   `json:"error,omitempty"`
	KeyType     string   `json:"key_type,omitempty"`
	KeyMatches  bool     `json:"key_matches"`
	LeafSubject string   `json:"leaf_subject,omitempty"`
	LeafSHA256  string   `json:"leaf_sha256,omitempty"`
	LeafEKU     []string `json:"leaf_eku,omitempty"`
	CACerts     int      `json:"ca_certs"`
	CASubjects  []string `json:"ca_subjects,omitempty"`
	LastSHA256  string   `json:"last_sha256,omitempty"`
}

func out(s summary, code int) {
	b, _ := json.Marshal(s)
	fmt.Println(string(b))
	os.Exit(code)
}

func fingerprint(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:])
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: decode FILE PASSWORD")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		out(summary{Error: err.Error()}, 1)
	}
	key, leaf, cas, err := pkcs12.DecodeChain(data, os.Args[2])
	if err != nil {
		out(summary{Error: err.Error()}, 1)
	}
	s := summary{OK: true, CACerts: len(cas), LeafSubject: leaf.Subject.String(),
		LeafSHA256: fingerprint(leaf), LastSHA256: fingerprint(leaf)}
	for _, c := range cas {
		s.CASubjects = append(s.CASubjects, c.Subject.String())
		s.LastSHA256 = fingerprint(c)
	}
	for _, u := range leaf.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth {
			s.LeafEKU = append(s.LeafEKU, "1.3.6.1.5.5.7.3.1")
		}
	}
	for _, o := range leaf.UnknownExtKeyUsage {
		s.LeafEKU = append(s.LeafEKU, o.String())
	}
	// The key matches the leaf when their public keys are the same.
	if signer, ok := key.(crypto.Signer); ok {
		s.KeyType = fmt.Sprintf("%T", key)
		pub, err1 := x509.MarshalPKIXPublicKey(signer.Public())
		want, err2 := x509.MarshalPKIXPublicKey(leaf.PublicKey)
		s.KeyMatches = err1 == nil && err2 == nil && bytes.Equal(pub, want)
	}
	out(s, 0)
}
