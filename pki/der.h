/*
 * der.h: the one reader of DER (and, where a caller asks for it, BER) and
 * of the base64 text that carries it, for everything in pki/ that looks at
 * encoded bytes before GnuTLS does. See der.c for why it is ours and not
 * libtasn1. Internal to pki/ (and its tests).
 */
#ifndef AMTCERTD_PKI_DER_H
#define AMTCERTD_PKI_DER_H

#include <stdbool.h>
#include <stddef.h>

/* Identifier octets of the types pki/ looks at. */
#define DER_INTEGER  0x02
#define DER_OCTETS   0x04
#define DER_NULL     0x05
#define DER_OID      0x06
#define DER_SEQUENCE 0x30
#define DER_SET      0x31
#define DER_CTX0     0xa0 /* [0], constructed */

/* pki_der_next() flag: BER as well. Indefinite lengths (constructed elements
 * only) and length octets longer than needed are let in. */
#define DER_BER 1u

/* Indefinite-length elements nested deeper than this are refused. */
#define DER_MAX_DEPTH 32

/* Bytes not read yet. */
struct der {
	const unsigned char *p;
	size_t len;
};

/* One element as pki_der_next() read it. After a failure, truncated says
 * the input ended first (rather than the element being malformed), and
 * hdr is not 0 when the header itself was read whole. */
struct der_tlv {
	const unsigned char *start; /* its identifier octet */
	size_t total;               /* bytes of the whole element */
	size_t hdr;                 /* identifier and length octets */
	struct der contents;        /* BER indefinite: up to the end mark */
	unsigned char tag;          /* identifier octet (tag numbers < 31) */
	bool indefinite;            /* BER indefinite length */
	bool truncated;             /* on failure: cut off, not malformed */
};

/*
 * Reads the element at the front of *in into *el and moves *in past it.
 * Length octets must fit in the bytes given (four at most: nothing read
 * here is 4 GiB), tags use the low-tag-number form, and the universal tag
 * 0 (the BER end mark) stands only where pki_der_next() itself looks for it.
 * Without DER_BER: definite, minimal lengths only. With DER_BER, an
 * indefinite-length element is followed to its end mark, nested no deeper
 * than DER_MAX_DEPTH. 0, or ERR_INVALID with el->truncated when the input
 * ended before the element did; *in is then unchanged.
 */
int pki_der_next(struct der *in, unsigned flags, struct der_tlv *el);

/* pki_der_next() (DER only) for an element of type tag; *val gets its
 * contents. 0 or ERR_INVALID. */
int pki_der_take(struct der *in, unsigned char tag, struct der *val);

/* true when the next element of in has the identifier octet tag. */
bool pki_der_peek(const struct der *in, unsigned char tag);

/* p[0..len) is exactly one element (of type tag unless tag is 0) with
 * nothing after it. 0 or ERR_INVALID (el->truncated as for pki_der_next()). */
int pki_der_one(const unsigned char *p, size_t len, unsigned char tag,
                unsigned flags, struct der_tlv *el);

/* The value of an INTEGER's contents: DER (minimal), not negative, at most
 * UINT_MAX. 0 or ERR_INVALID. */
int pki_der_uint(const struct der *v, unsigned *out);

/* true when the contents of an OBJECT IDENTIFIER are oid[0..len). */
bool pki_der_oid_is(const struct der *v, const unsigned char *oid, size_t len);

/* ---- bounds checked before GnuTLS parses -------------------------------- */

/* Bytes of one certificate: real ones are 1-3 KiB (pki/cert.c refuses more
 * too, but only after this check has kept GnuTLS from the bytes). */
#define DER_CERT_MAX (64 * 1024)
/* Attributes in one Name (issuer or subject): real ones have under 20. */
#define DER_NAME_MAX_ATTRS 64
/* Elements directly inside one constructed element. libtasn1 appends each
 * element of a SET OF or SEQUENCE OF by walking the list so far, so its
 * decoding time grows with the square of this count. */
#define DER_MAX_CHILDREN 1024

/*
 * Walks every constructed element of p[0..len) (one or more elements,
 * DER, or BER with DER_BER), nested no deeper than DER_MAX_DEPTH, and
 * refuses any with more than max_children elements directly inside it.
 * Linear in len, no recursion. 0; ERR_INVALID when malformed;
 * ERR_TOO_LARGE (why set) when too deep or too wide.
 */
int pki_der_bounded(const unsigned char *p, size_t len, unsigned flags,
                    size_t max_children, const char **why);

/*
 * What a certificate (or CSR, which shares the shape up to the subject)
 * must be before GnuTLS may parse it: at most DER_CERT_MAX bytes, no
 * constructed element wider than DER_MAX_CHILDREN, no Name of its
 * TBSCertificate (or CertificationRequestInfo) with more than
 * DER_NAME_MAX_ATTRS attributes. Reads nothing past the length octets of
 * an input that is too large. 0; ERR_TOO_LARGE with why; ERR_INVALID
 * when it is not that shape of DER (GnuTLS would refuse it too, so the
 * caller may still ask GnuTLS why).
 */
int pki_der_cert_bounded(const unsigned char *p, size_t len, const char **why);

/* ---- the text around it ------------------------------------------------ */

/* true when p[0..len) holds only base64 symbols (RFC 4648), '=' and white
 * space (space, tab, CR, LF, VT, FF). */
bool pki_is_base64_text(const unsigned char *p, size_t len);

/*
 * Decodes base64 text with GnuTLS. White space anywhere is ignored;
 * padding may be left out as a whole but, when present, must be right and
 * last; the bits after the last byte must be zero. Text with anything
 * else in it, or no symbol at all, is ERR_INVALID. *out is malloc'd and
 * may hold a key: the caller wipes it before freeing. 0, ERR_INVALID,
 * ERR_NOMEM.
 */
int pki_base64_decode(const unsigned char *text, size_t len,
                      unsigned char **out, size_t *out_len);

/* memmem() without the GNU dependency; needles are a few bytes. */
const unsigned char *pki_find_bytes(const unsigned char *hay, size_t hay_len,
                                    const char *needle);

#endif
