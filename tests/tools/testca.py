#!/usr/bin/env python3
"""testca: a throw-away certificate authority that signs like an AMT CA.

The API, interop and browser tests of amtcertd need realistic deliveries from
a public CA (Sectigo, DigiCert, ...): a leaf with the Intel AMT provisioning
EKU, an intermediate, a root that AMT trusts by the SHA-256 of its DER, and
the shapes those arrive in (zip of .crt files, PKCS#7, PFX, PEM bundle).
This module builds them with the ``openssl`` command line tool only (Python
3.11 standard library, no pip packages), so it runs wherever the daemon's
tests run.

Library use::

    sys.path.insert(0, "tests/tools"); import testca
    ca = testca.TestCA(tmpdir)                       # root + intermediate
    key, csr = testca.make_key_and_csr("amt.example.com", sans=["amt.example.com"])
    leaf = ca.sign_csr(csr)                          # serverAuth + AMT OID
    ca.delivery_zip(leaf, tmpdir / "order.zip")      # Sectigo-style zip
    ca.root_sha256                                   # hash to give to AMT

Command line (see ``python3 tests/tools/testca.py --help``)::

    python3 tests/tools/testca.py --workdir /tmp/ca init
    python3 tests/tools/testca.py --workdir /tmp/ca sign --csr amt.csr --out-zip delivery.zip

Nothing here is meant to be secure: keys are unencrypted files in the work
directory. One CA per work directory.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Iterable, Sequence

__all__ = [
    "AMT_OID", "AMT_LEGACY_OU", "EKU_NAMES", "OpenSSLError", "TestCA",
    "make_key", "make_key_and_csr", "csr_as_iis", "cross_sign",
    "split_pem", "pem_to_der", "der_to_pem", "sha256_of_pem", "sha1_of_pem",
    "sha384_of_pem", "spki_sha256", "x509_text", "subject_of", "issuer_of",
    "name_fields", "dates_of", "serial_of", "openssl_verify", "format_time",
]

OPENSSL = os.environ.get("OPENSSL", "openssl")

#: Intel AMT provisioning certificate EKU (amt-facts.md section 1).
AMT_OID = "2.16.840.1.113741.1.2.3"
#: Legacy subject OU that marks an AMT provisioning certificate.
AMT_LEGACY_OU = "Intel(R) Client Setup Certificate"
#: Short EKU names accepted by ``sign_csr(eku=...)``; dotted OIDs pass through.
EKU_NAMES = {
    "serverAuth": "serverAuth",
    "clientAuth": "clientAuth",
    "amt": AMT_OID,
    "codeSigning": "codeSigning",
    "emailProtection": "emailProtection",
}
#: Digest names accepted for ``root_sig``/``inter_sig``/``sig``.
SIGS = ("sha1", "sha224", "sha256", "sha384", "sha512")

_PEM_RE = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----\r?\n?", re.S)

TimeLike = "_dt.datetime | str | None"


class OpenSSLError(RuntimeError):
    """An ``openssl`` command failed; ``stderr`` holds its message."""

    def __init__(self, args: Sequence[str], rc: int, stderr: str):
        self.cmd = list(args)
        self.rc = rc
        self.stderr = stderr
        super().__init__(f"openssl {' '.join(args[1:])} failed (rc={rc}): {stderr.strip()[-2000:]}")


# ---------------------------------------------------------------- low level

def _run(args: Sequence[str], *, input: bytes | str | None = None, cwd=None,
         env_extra: dict | None = None, check: bool = True) -> bytes:
    if isinstance(input, str):
        input = input.encode()
    env = None
    if env_extra:
        env = dict(os.environ)
        env.update(env_extra)
    argv = [OPENSSL, *args]
    p = subprocess.run(argv, input=input, capture_output=True, cwd=cwd, env=env)
    if check and p.returncode != 0:
        raise OpenSSLError(argv, p.returncode, p.stderr.decode(errors="replace"))
    return p.stdout


def _text(x: str | bytes) -> str:
    return x.decode() if isinstance(x, (bytes, bytearray)) else x


def _write(path: Path, data: str | bytes) -> Path:
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


class _Tmp:
    """A scratch directory (inside ``base`` when given), removed on exit."""

    def __init__(self, base: str | os.PathLike | None = None):
        self.base = base

    def __enter__(self) -> Path:
        if self.base is not None:
            Path(self.base).mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="tmp-", dir=self.base))
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def split_pem(text: str | bytes, kind: str | None = None) -> list[str]:
    """All PEM blocks in ``text`` (optionally only those of type ``kind``,
    e.g. "CERTIFICATE"), each normalised to LF line ends."""
    out = []
    for m in _PEM_RE.finditer(_text(text)):
        if kind is None or m.group(1) == kind:
            block = m.group(0).replace("\r\n", "\n")
            out.append(block if block.endswith("\n") else block + "\n")
    return out


def _first_cert(pem: str | bytes) -> str:
    certs = split_pem(pem, "CERTIFICATE")
    if not certs:
        raise ValueError("no PEM CERTIFICATE block found")
    return certs[0]


def pem_to_der(pem: str | bytes) -> bytes:
    """DER of the first PEM block (any type) in ``pem``."""
    blocks = split_pem(pem)
    if not blocks:
        raise ValueError("no PEM block found")
    body = "".join(line for line in blocks[0].splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


def der_to_pem(der: bytes, kind: str = "CERTIFICATE") -> str:
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----\n"


def sha256_of_pem(pem: str | bytes) -> str:
    """Lower-case hex SHA-256 of the first certificate's DER (the AMT root hash)."""
    return hashlib.sha256(pem_to_der(_first_cert(pem))).hexdigest()


def sha1_of_pem(pem: str | bytes) -> str:
    return hashlib.sha1(pem_to_der(_first_cert(pem))).hexdigest()


def sha384_of_pem(pem: str | bytes) -> str:
    return hashlib.sha384(pem_to_der(_first_cert(pem))).hexdigest()


def spki_sha256(pem: str | bytes) -> str:
    """Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo of a certificate,
    CSR, private key or public key given as PEM."""
    blocks = split_pem(pem)
    if not blocks:
        raise ValueError("no PEM block found")
    block = blocks[0]
    kind = _PEM_RE.match(block).group(1)
    if kind == "CERTIFICATE":
        pub = _run(["x509", "-noout", "-pubkey"], input=block)
    elif kind in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
        block = block.replace("NEW CERTIFICATE REQUEST", "CERTIFICATE REQUEST")
        pub = _run(["req", "-noout", "-pubkey"], input=block)
    elif kind.endswith("PRIVATE KEY"):
        pub = _run(["pkey", "-pubout"], input=block)
    elif kind.endswith("PUBLIC KEY"):
        pub = block.encode()
    else:
        raise ValueError(f"cannot take the public key of a {kind}")
    der = _run(["pkey", "-pubin", "-outform", "DER"], input=pub)
    return hashlib.sha256(der).hexdigest()


def x509_text(pem: str | bytes) -> str:
    """``openssl x509 -text -noout`` of the first certificate."""
    return _run(["x509", "-noout", "-text"], input=_first_cert(pem)).decode()


def name_fields(pem: str | bytes, which: str = "subject") -> list[tuple[str, str]]:
    """[(short name, value), ...] of the subject/issuer of a certificate, or
    of the subject of a CSR, in DER order."""
    block = split_pem(pem)[0].replace("NEW CERTIFICATE REQUEST", "CERTIFICATE REQUEST")
    cmd = "req" if "REQUEST" in block.splitlines()[0] else "x509"
    out = _run([cmd, "-noout", f"-{which}", "-nameopt", "sname,sep_multiline,utf8,esc_ctrl"],
               input=block).decode()
    fields = []
    for line in out.splitlines()[1:]:
        line = line.strip()
        if not line:
            continue
        for part in line.split(" + "):
            k, _, v = part.partition("=")
            fields.append((k, v))
    return fields


def _fields_to_str(fields) -> str:
    return ", ".join(f"{k}={v}" for k, v in fields)


def subject_of(pem: str | bytes) -> str:
    """Subject as 'C=US, O=Example, CN=host' (DER order)."""
    return _fields_to_str(name_fields(pem, "subject"))


def issuer_of(pem: str | bytes) -> str:
    return _fields_to_str(name_fields(pem, "issuer"))


def _cn_of_fields(fields) -> str | None:
    cns = [v for k, v in fields if k == "CN"]
    return cns[-1] if cns else None


def dates_of(pem: str | bytes) -> tuple[_dt.datetime, _dt.datetime]:
    """(notBefore, notAfter) of the first certificate as aware UTC datetimes."""
    out = _run(["x509", "-noout", "-startdate", "-enddate", "-dateopt", "iso_8601"],
               input=_first_cert(pem)).decode()
    vals = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        vals[k] = _dt.datetime.strptime(v.strip(), "%Y-%m-%d %H:%M:%SZ").replace(
            tzinfo=_dt.timezone.utc)
    return vals["notBefore"], vals["notAfter"]


def serial_of(pem: str | bytes) -> str:
    out = _run(["x509", "-noout", "-serial"], input=_first_cert(pem)).decode()
    return out.strip().partition("=")[2].lower()


def openssl_verify(leaf_pem: str | bytes, *, trusted: Iterable[str] = (),
                   untrusted: Iterable[str] = (), attime: "TimeLike" = None,
                   extra_args: Sequence[str] = ()) -> tuple[bool, str]:
    """Run ``openssl verify -CAfile <trusted> -untrusted <untrusted> leaf``.
    Returns (ok, combined output)."""
    with _Tmp() as d:
        args = ["verify"]
        t = "".join(_text(p) for p in trusted)
        u = "".join(_text(p) for p in untrusted)
        if t:
            args += ["-CAfile", str(_write(d / "trusted.pem", t))]
        else:
            args += ["-no-CAfile", "-no-CApath", "-no-CAstore"]
        if u:
            args += ["-untrusted", str(_write(d / "untrusted.pem", u))]
        if attime is not None:
            args += ["-attime", str(int(_to_datetime(attime).timestamp()))]
        args += list(extra_args)
        args.append(str(_write(d / "leaf.pem", _first_cert(leaf_pem))))
        p = subprocess.run([OPENSSL, *args], capture_output=True)
        out = (p.stdout + p.stderr).decode(errors="replace")
        return p.returncode == 0, out


# -------------------------------------------------------------------- times

def _to_datetime(t) -> _dt.datetime:
    if isinstance(t, _dt.datetime):
        return t.replace(tzinfo=_dt.timezone.utc) if t.tzinfo is None else t.astimezone(_dt.timezone.utc)
    if isinstance(t, _dt.date):
        return _dt.datetime(t.year, t.month, t.day, tzinfo=_dt.timezone.utc)
    s = str(t).strip()
    for fmt in ("%Y%m%d%H%M%SZ", "%y%m%d%H%M%SZ"):
        try:
            return _dt.datetime.strptime(s, fmt).replace(tzinfo=_dt.timezone.utc)
        except ValueError:
            pass
    raise ValueError(f"time {t!r}: want a datetime or 'YYYYMMDDHHMMSSZ'")


def format_time(t) -> str:
    """'YYYYMMDDHHMMSSZ' for a datetime (naive = UTC), date or such a string.
    OpenSSL encodes years 1950-2049 as UTCTime, later ones as GeneralizedTime,
    as RFC 5280 requires."""
    return _to_datetime(t).strftime("%Y%m%d%H%M%SZ")


def _window(days, not_before, not_after) -> tuple[str, str]:
    """Validity window: not_before defaults to now minus one minute (a small
    back-dating, as public CAs do); not_after defaults to not_before + days."""
    nb = _to_datetime(not_before) if not_before is not None else (
        _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0) - _dt.timedelta(minutes=1))
    na = _to_datetime(not_after) if not_after is not None else nb + _dt.timedelta(days=days)
    return format_time(nb), format_time(na)


# --------------------------------------------------------------- keys, CSRs

_REQ_CNF = "[req]\ndistinguished_name = dn\nstring_mask = utf8only\n[dn]\n"


def make_key(key_type: str = "rsa", bits: int = 2048, curve: str = "prime256v1") -> str:
    """A new private key as PKCS#8 PEM. key_type "rsa" (``bits``) or "ec"
    (``curve``: prime256v1, secp384r1, ...)."""
    if key_type == "rsa":
        args = ["genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{int(bits)}"]
    elif key_type in ("ec", "ecdsa"):
        args = ["genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}",
                "-pkeyopt", "ec_param_enc:named_curve"]
    else:
        raise ValueError(f"key_type {key_type!r}: want 'rsa' or 'ec'")
    return _run(args).decode()


def _escape_subj(v: str) -> str:
    return v.replace("\\", "\\\\").replace("/", "\\/").replace("+", "\\+")


def _subj_string(fields) -> str:
    return "".join(f"/{k}={_escape_subj(v)}" for k, v in fields)


def _subject_arg(cn_or_subject: str) -> str:
    """'host' -> '/CN=host'; a string starting with '/' is used as is."""
    if cn_or_subject.startswith("/"):
        return cn_or_subject
    return "/CN=" + _escape_subj(cn_or_subject)


def _san_entries(sans: Iterable[str]) -> list[tuple[str, str]]:
    out = []
    for s in sans:
        m = re.match(r"^(DNS|IP|email|URI|RID|dirName|otherName):(.*)$", s)
        out.append((m.group(1), m.group(2)) if m else ("DNS", s))
    return out


def make_key_and_csr(cn: str, bits: int = 2048, sans: Iterable[str] = (),
                     workdir: str | os.PathLike | None = None, *,
                     key_type: str = "rsa", curve: str = "prime256v1",
                     subject: str | None = None, key_pem: str | None = None,
                     sig: str = "sha256") -> tuple[str, str]:
    """(key_pem, csr_pem). Subject "/CN=<cn>" unless ``subject`` gives a full
    "/C=US/O=Org/CN=host" string; ``sans`` become a subjectAltName request
    extension (plain names are DNS, "IP:1.2.3.4" etc. pass through). Reuses
    ``key_pem`` when given."""
    if key_pem is None:
        key_pem = make_key(key_type, bits, curve)
    with _Tmp(workdir) as d:
        _write(d / "req.cnf", _REQ_CNF)
        _write(d / "key.pem", key_pem)
        args = ["req", "-new", "-config", "req.cnf", "-utf8", "-key", "key.pem",
                "-subj", subject if subject is not None else _subject_arg(cn), f"-{sig}"]
        entries = _san_entries(sans)
        if entries:
            args += ["-addext", "subjectAltName=" + ",".join(f"{t}:{v}" for t, v in entries)]
        csr = _run(args, cwd=d).decode()
    return key_pem, csr


def csr_as_iis(csr_pem: str) -> str:
    """The CSR as IIS writes it: 'NEW CERTIFICATE REQUEST' armour, CRLF."""
    block = split_pem(csr_pem)[0].replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
    return block.replace("\n", "\r\n")


def _csr_dns_names(csr_pem: str) -> list[str]:
    text = _run(["req", "-noout", "-text"], input=csr_pem).decode()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "X509v3 Subject Alternative Name" in line and i + 1 < len(lines):
            return [p.strip()[4:] for p in lines[i + 1].split(",") if p.strip().startswith("DNS:")]
    return []


def _csr_is_ec(csr_pem: str) -> bool:
    text = _run(["req", "-noout", "-text"], input=csr_pem).decode()
    return "id-ecPublicKey" in text


def _normalise_csr(csr_pem: str | bytes) -> str:
    if isinstance(csr_pem, (bytes, bytearray)) and not csr_pem.lstrip().startswith(b"-----"):
        return _run(["req", "-inform", "DER"], input=bytes(csr_pem)).decode()
    blocks = [b for b in split_pem(csr_pem) if "REQUEST" in b.splitlines()[0]]
    if not blocks:
        raise ValueError("no PEM CERTIFICATE REQUEST found")
    return blocks[0].replace("NEW CERTIFICATE REQUEST", "CERTIFICATE REQUEST")


# ----------------------------------------------------------- openssl ca glue

_CA_CNF = """\
[ca]
default_ca = CA_default
[CA_default]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
unique_subject = no
default_md = sha256
policy = policy_any
email_in_dn = yes
copy_extensions = none
[policy_any]
commonName = optional
"""


def _ext_section(name: str, lines: list[str], sans: list[tuple[str, str]] | None = None) -> str:
    s = f"[{name}]\n" + "".join(line + "\n" for line in lines)
    if sans:
        s = s.replace("@@SAN@@", f"@{name}_san")
        s += f"[{name}_san]\n"
        counts: dict[str, int] = {}
        for t, v in sans:
            counts[t] = counts.get(t, 0) + 1
            s += f"{t}.{counts[t]} = {v}\n"
    return s


def _ca_sign(workdir, csr_pem: str, *, ext_lines: list[str], sans=None,
             sig: str = "sha256", not_before: str, not_after: str,
             issuer_cert: str | None, issuer_key: str, subj: str | None = None) -> str:
    """Sign ``csr_pem`` with ``openssl ca`` in a throw-away database.
    ``issuer_cert`` None = self-sign with ``issuer_key``."""
    if sig not in SIGS:
        raise ValueError(f"signature digest {sig!r}: want one of {SIGS}")
    with _Tmp(workdir) as d:
        _write(d / "ca.cnf", _CA_CNF)
        _write(d / "index.txt", "")
        _write(d / "serial", "01\n")
        _write(d / "ext.cnf", _ext_section("ext", ext_lines, sans))
        _write(d / "req.pem", csr_pem)
        _write(d / "issuer.key", issuer_key)
        args = ["ca", "-batch", "-config", "ca.cnf", "-notext", "-utf8", "-preserveDN",
                "-rand_serial", "-md", sig, "-startdate", not_before, "-enddate", not_after,
                "-extfile", "ext.cnf", "-extensions", "ext", "-keyfile", "issuer.key",
                "-in", "req.pem", "-out", "out.pem"]
        if issuer_cert is None:
            args.append("-selfsign")
        else:
            _write(d / "issuer.pem", _first_cert(issuer_cert))
            args += ["-cert", "issuer.pem"]
        if subj is not None:
            args += ["-subj", subj]
        _run(args, cwd=d)
        return _first_cert((d / "out.pem").read_text())


def _safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", s) or "cert"


def _leaf_file_stem(cn: str) -> str:
    """Sectigo names the leaf after its CN: dots -> '_', '*' -> 'STAR'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", cn.replace("*", "STAR").replace(".", "_")) or "certificate"


# ------------------------------------------------------------------- the CA

class TestCA:
    """A root CA and an intermediate ("issuing") CA under it, persisted in
    ``workdir``: root.key, root.crt (PEM), root.der, inter.key, inter.crt,
    inter.der and ca.json (the parameters).

    ``root_cn``/``inter_cn`` may be a bare CN or a full subject string
    "/C=GB/O=Example/CN=Example Root". ``root_sig``/``inter_sig``: sha1,
    sha256, sha384, ... (``root_sig="sha1"`` gives an AAA-style
    sha1WithRSAEncryption root). ``inter_not_before``/``inter_not_after``
    (datetime or 'YYYYMMDDHHMMSSZ') override ``inter_days``;
    ``inter_is_ca=False`` makes the intermediate CA:FALSE and
    ``inter_key_cert_sign=False`` drops keyCertSign from its keyUsage (both
    make chains under it invalid). ``key_type="ec"`` makes ECDSA CA keys on
    ``curve``. ``reuse=True`` loads an existing CA from ``workdir`` instead of
    creating one (the other parameters are then ignored).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, workdir, root_cn: str = "amtcertd Test Root CA",
                 inter_cn: str = "amtcertd Test Issuing CA", key_bits: int = 2048,
                 root_sig: str = "sha256", inter_sig: str = "sha256",
                 root_days: int = 3650, inter_days: int = 1825,
                 inter_not_before=None, inter_not_after=None,
                 inter_is_ca: bool = True, inter_key_cert_sign: bool = True,
                 *, root_not_before=None, root_not_after=None,
                 inter_pathlen: int | None = 0, inter_eku: Sequence[str] = (),
                 key_type: str = "rsa", curve: str = "secp384r1",
                 reuse: bool = False):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if reuse and self.exists(self.workdir):
            self._load()
            return
        self.params = dict(root_cn=root_cn, inter_cn=inter_cn, key_bits=key_bits,
                           root_sig=root_sig, inter_sig=inter_sig, root_days=root_days,
                           inter_days=inter_days, inter_is_ca=inter_is_ca,
                           inter_key_cert_sign=inter_key_cert_sign,
                           inter_pathlen=inter_pathlen, inter_eku=list(inter_eku),
                           key_type=key_type, curve=curve)
        root_key = make_key(key_type, key_bits, curve)
        root_csr = make_key_and_csr("", workdir=self.workdir, key_pem=root_key,
                                    subject=_subject_arg(root_cn))[1]
        nb, na = _window(root_days, root_not_before, root_not_after)
        root = _ca_sign(self.workdir, root_csr, ext_lines=self._root_ext(with_aki=False),
                        sig=root_sig, not_before=nb, not_after=na,
                        issuer_cert=None, issuer_key=root_key)

        inter_key = make_key(key_type, key_bits, curve)
        inter_csr = make_key_and_csr("", workdir=self.workdir, key_pem=inter_key,
                                     subject=_subject_arg(inter_cn))[1]
        bc = "basicConstraints = critical, CA:TRUE" if inter_is_ca else "basicConstraints = critical, CA:FALSE"
        if inter_is_ca and inter_pathlen is not None:
            bc += f", pathlen:{int(inter_pathlen)}"
        ku = "keyUsage = critical, digitalSignature, " + ("keyCertSign, cRLSign" if inter_key_cert_sign else "cRLSign")
        lines = [bc, ku, "subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid:always"]
        if inter_eku:
            lines.append("extendedKeyUsage = " + ", ".join(EKU_NAMES.get(e, e) for e in inter_eku))
        nb, na = _window(inter_days, inter_not_before, inter_not_after)
        inter = _ca_sign(self.workdir, inter_csr, ext_lines=lines, sig=inter_sig,
                         not_before=nb, not_after=na, issuer_cert=root, issuer_key=root_key)

        _write(self.root_key_path, root_key)
        _write(self.inter_key_path, inter_key)
        for p in (self.root_key_path, self.inter_key_path):
            os.chmod(p, 0o600)
        _write(self.root_path, root)
        _write(self.root_der_path, pem_to_der(root))
        _write(self.inter_path, inter)
        _write(self.inter_der_path, pem_to_der(inter))
        _write(self.workdir / "ca.json", json.dumps(self.params, indent=2) + "\n")
        self._load()

    # -- persistence
    @staticmethod
    def exists(workdir) -> bool:
        w = Path(workdir)
        return all((w / n).is_file() for n in ("root.key", "root.crt", "inter.key", "inter.crt"))

    @classmethod
    def load(cls, workdir) -> "TestCA":
        """Open the CA stored in ``workdir`` (FileNotFoundError if none)."""
        if not cls.exists(workdir):
            raise FileNotFoundError(f"no test CA in {workdir}")
        return cls(workdir, reuse=True)

    def _load(self):
        p = self.workdir / "ca.json"
        self.params = json.loads(p.read_text()) if p.is_file() else {}
        self.root_pem = _first_cert(self.root_path.read_text())
        self.inter_pem = _first_cert(self.inter_path.read_text())
        self.root_key_pem = self.root_key_path.read_text()
        self.inter_key_pem = self.inter_key_path.read_text()

    # -- paths
    root_key_path = property(lambda self: self.workdir / "root.key")
    root_path = property(lambda self: self.workdir / "root.crt")
    root_der_path = property(lambda self: self.workdir / "root.der")
    inter_key_path = property(lambda self: self.workdir / "inter.key")
    inter_path = property(lambda self: self.workdir / "inter.crt")
    inter_der_path = property(lambda self: self.workdir / "inter.der")

    # -- certificates and hashes
    @property
    def root_der(self) -> bytes:
        return pem_to_der(self.root_pem)

    @property
    def inter_der(self) -> bytes:
        return pem_to_der(self.inter_pem)

    @property
    def root_sha256(self) -> str:
        return hashlib.sha256(self.root_der).hexdigest()

    @property
    def root_sha1(self) -> str:
        return hashlib.sha1(self.root_der).hexdigest()

    @property
    def root_sha384(self) -> str:
        return hashlib.sha384(self.root_der).hexdigest()

    @property
    def chain_pem(self) -> str:
        """Intermediate then root, PEM."""
        return self.inter_pem + self.root_pem

    @property
    def root_cn(self) -> str:
        return _cn_of_fields(name_fields(self.root_pem)) or "root"

    @property
    def inter_cn(self) -> str:
        return _cn_of_fields(name_fields(self.inter_pem)) or "intermediate"

    def __repr__(self):
        return f"TestCA({str(self.workdir)!r}, root={self.root_cn!r}, sha256={self.root_sha256})"

    @staticmethod
    def _root_ext(with_aki: bool) -> list[str]:
        lines = ["basicConstraints = critical, CA:TRUE",
                 "keyUsage = critical, keyCertSign, cRLSign",
                 "subjectKeyIdentifier = hash"]
        if with_aki:
            lines.append("authorityKeyIdentifier = keyid:always")
        return lines

    # -- signing
    def sign_csr(self, csr_pem: str | bytes, days: int = 200,
                 eku: Sequence[str] = ("serverAuth", "amt"), ou: str | None = None,
                 sig: str = "sha256", not_before=None, not_after=None,
                 cn: str | None = None, sans: Iterable[str] | None = None,
                 *, issuer: str = "inter") -> str:
        """Sign a CSR the way an AMT CA does and return the leaf PEM.

        Subject: the CSR's (order and encoding kept), with CN replaced by
        ``cn`` and an OU ``ou`` added before the CN when given
        (``ou=AMT_LEGACY_OU`` gives a legacy AMT certificate). SANs: the
        CSR's dNSNames, or ``sans`` when not None (``()`` = no SAN
        extension). ``eku``: names from EKU_NAMES ("serverAuth", "amt",
        "clientAuth") or dotted OIDs, in that order; empty = no EKU
        extension. keyUsage critical digitalSignature+keyEncipherment
        (digitalSignature only for an EC key), basicConstraints CA:FALSE,
        SKI, AKI, random serial. Validity: ``not_before`` (default now - 1
        min) to ``not_after`` (default not_before + ``days``); times are
        datetimes (naive = UTC) or 'YYYYMMDDHHMMSSZ'. ``issuer="root"`` signs
        directly with the root (a chain without intermediate).
        """
        csr = _normalise_csr(csr_pem)
        subj = None
        if cn is not None or ou is not None:
            fields = name_fields(csr)
            if cn is not None:
                if any(k == "CN" for k, _ in fields):
                    fields = [(k, cn if k == "CN" else v) for k, v in fields]
                else:
                    fields.append(("CN", cn))
            if ou is not None:
                idx = next((i for i, (k, _) in enumerate(fields) if k == "CN"), len(fields))
                fields.insert(idx, ("OU", ou))
            subj = _subj_string(fields)
        san = _san_entries(sans) if sans is not None else [("DNS", n) for n in _csr_dns_names(csr)]
        ku = "digitalSignature" if _csr_is_ec(csr) else "digitalSignature, keyEncipherment"
        lines = ["basicConstraints = critical, CA:FALSE",
                 f"keyUsage = critical, {ku}",
                 "subjectKeyIdentifier = hash",
                 "authorityKeyIdentifier = keyid:always"]
        if eku:
            lines.append("extendedKeyUsage = " + ", ".join(EKU_NAMES.get(e, e) for e in eku))
        if san:
            lines.append("subjectAltName = @@SAN@@")
        nb, na = _window(days, not_before, not_after)
        if issuer == "inter":
            icert, ikey = self.inter_pem, self.inter_key_pem
        elif issuer == "root":
            icert, ikey = self.root_pem, self.root_key_pem
        else:
            raise ValueError("issuer: 'inter' or 'root'")
        return _ca_sign(self.workdir, csr, ext_lines=lines, sans=san or None, sig=sig,
                        not_before=nb, not_after=na, issuer_cert=icert, issuer_key=ikey,
                        subj=subj)

    def issue(self, cn: str, key_bits: int = 2048, key_type: str = "rsa", *,
              curve: str = "prime256v1", csr_sans: Iterable[str] | None = None,
              csr_subject: str | None = None, **sign_kwargs) -> tuple[str, str]:
        """Make a key and CSR for ``cn`` and sign it: (key_pem, leaf_pem).
        The CSR requests SAN DNS:<cn> (or ``csr_sans``); ``sign_kwargs`` go
        to sign_csr (eku, ou, days, not_before, not_after, sans, sig, ...)."""
        if csr_sans is None:
            csr_sans = [cn] if re.fullmatch(r"[A-Za-z0-9*_.-]+", cn) else []
        key, csr = make_key_and_csr(cn, key_bits, csr_sans, self.workdir,
                                    key_type=key_type, curve=curve, subject=csr_subject)
        return key, self.sign_csr(csr, **sign_kwargs)

    def cross_signed_by(self, other: "TestCA", *, sig: str = "sha256", days: int | None = None,
                        not_before=None, not_after=None) -> str:
        """A cross-signed twin of this CA's root: same subject and key (so the
        same SKI), issued by ``other``'s root (AKI = its SKI), like USERTrust
        RSA Certification Authority cross-signed by AAA Certificate Services.
        Validity defaults to this root's, or ``days`` from now."""
        req = _run(["x509", "-x509toreq", "-key", str(self.root_key_path)],
                   input=self.root_pem).decode()
        if days is None and not_before is None and not_after is None:
            not_before, not_after = dates_of(self.root_pem)
        nb, na = _window(days or 3650, not_before, not_after)
        return _ca_sign(self.workdir, req, ext_lines=self._root_ext(with_aki=True), sig=sig,
                        not_before=nb, not_after=na, issuer_cert=other.root_pem,
                        issuer_key=other.root_key_pem)

    # -- deliveries
    def _cert(self, which) -> str:
        if which == "inter":
            return self.inter_pem
        if which == "root":
            return self.root_pem
        if isinstance(which, (str, bytes)) and "-----BEGIN" in _text(which):
            return "".join(split_pem(which, "CERTIFICATE"))
        raise ValueError(f"unknown certificate {which!r}")

    def bundle_pem(self, leaf_pem: str, order: Sequence[str] = ("leaf", "inter", "root")) -> str:
        """Concatenated PEM in ``order``: "leaf", "inter", "root" or PEM text
        (e.g. a cross-signed cert); names may repeat or be left out."""
        return "".join(_first_cert(leaf_pem) if o == "leaf" else self._cert(o) for o in order)

    def file_names(self, leaf_pem: str) -> dict[str, str]:
        """Sectigo-style file names: {'leaf': 'host_example_com.crt',
        'inter': 'amtcertdTestIssuingCA.crt', 'root': 'amtcertdTestRootCA.crt'}."""
        cn = _cn_of_fields(name_fields(leaf_pem)) or "certificate"
        return {"leaf": _leaf_file_stem(cn) + ".crt",
                "inter": _safe_name(self.inter_cn) + ".crt",
                "root": _safe_name(self.root_cn) + ".crt"}

    def delivery_zip(self, leaf_pem: str, path, layout: str = "sectigo", *,
                     include_root: bool = True, extra_files: dict | None = None) -> list[str]:
        """Write a CA delivery zip; returns the member names.

        layout "sectigo": flat, all PEM: ``<cn dots->_>.crt`` (leaf),
        ``<InterCNNoSpaces>.crt``, ``<RootCNNoSpaces>.crt`` (like
        ``SectigoRSAOrganizationValidationSecureServerCA.crt`` and
        ``AAACertificateServices.crt``).
        layout "nested": ``certs/leaf/<cn>.cer`` (DER),
        ``certs/chain/<Inter>.crt`` (PEM), ``root/<Root>.crt`` (PEM) and
        ``readme.txt``.
        layout "bundle": ``<cn>.crt`` (leaf) and ``<cn>.ca-bundle``
        (intermediate then root, PEM).
        ``extra_files`` {member name: str|bytes} are added as given (e.g. a
        cross-signed root); ``include_root=False`` leaves the root out.
        """
        names = self.file_names(leaf_pem)
        leaf = _first_cert(leaf_pem)
        members: list[tuple[str, bytes]] = []
        if layout == "sectigo":
            members.append((names["leaf"], leaf.encode()))
            members.append((names["inter"], self.inter_pem.encode()))
            if include_root:
                members.append((names["root"], self.root_pem.encode()))
        elif layout == "nested":
            stem = names["leaf"][:-4]
            members.append((f"certs/leaf/{stem}.cer", pem_to_der(leaf)))
            members.append((f"certs/chain/{names['inter']}", self.inter_pem.encode()))
            if include_root:
                members.append((f"root/{names['root']}", self.root_pem.encode()))
            members.append(("readme.txt", (
                "Your certificate order has been processed.\r\n\r\n"
                f"certs/leaf/{stem}.cer      your certificate (DER)\r\n"
                f"certs/chain/{names['inter']}  intermediate CA (PEM)\r\n"
                + (f"root/{names['root']}  root CA (PEM)\r\n" if include_root else "")
                + f"\r\nRoot SHA-256: {self.root_sha256}\r\n").encode()))
        elif layout == "bundle":
            stem = names["leaf"][:-4]
            members.append((names["leaf"], leaf.encode()))
            bundle = self.inter_pem + (self.root_pem if include_root else "")
            members.append((stem + ".ca-bundle", bundle.encode()))
        else:
            raise ValueError(f"layout {layout!r}: want sectigo, nested or bundle")
        for name, data in (extra_files or {}).items():
            members.append((name, data.encode() if isinstance(data, str) else bytes(data)))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members:
                z.writestr(name, data)
        return [n for n, _ in members]

    def delivery_p7b(self, leaf_pem: str, path, pem: bool = True, *,
                     include_root: bool = True, order: Sequence[str] | None = None) -> bytes:
        """Write a PKCS#7 certs-only bundle (``openssl crl2pkcs7 -nocrl``),
        PEM or DER; returns its bytes. Default order leaf, inter, root."""
        order = order or (("leaf", "inter", "root") if include_root else ("leaf", "inter"))
        with _Tmp(self.workdir) as d:
            args = ["crl2pkcs7", "-nocrl"]
            for i, o in enumerate(order):
                pem_text = self.bundle_pem(leaf_pem, (o,))
                args += ["-certfile", str(_write(d / f"c{i}.pem", pem_text))]
            if not pem:
                args += ["-outform", "DER"]
            data = _run(args)
        Path(path).write_bytes(data)
        return data

    def delivery_pfx(self, key_pem: str, leaf_pem: str, path, password: str,
                     include_root: bool = True, legacy: bool = False, *,
                     name: str | None = None, extra_certs: Sequence[str] = ()) -> bytes:
        """Write a PKCS#12 with the key, the leaf, the intermediate and (when
        ``include_root``) the root, in that order; returns its bytes.
        Default: OpenSSL 3 defaults (PBES2 AES-256-CBC, SHA-256 MAC).
        ``legacy=True``: pbeWithSHAAnd3-KeyTripleDES-CBC for key and certs
        with a SHA-1 MAC (the profile every AMT console reads; no legacy
        provider needed). ``extra_certs`` are appended after the chain."""
        with _Tmp(self.workdir) as d:
            _write(d / "key.pem", key_pem)
            _write(d / "leaf.pem", _first_cert(leaf_pem))
            chain = self.inter_pem + (self.root_pem if include_root else "") + "".join(extra_certs)
            _write(d / "chain.pem", chain)
            args = ["pkcs12", "-export", "-inkey", "key.pem", "-in", "leaf.pem",
                    "-certfile", "chain.pem", "-passout", "env:TESTCA_PFX_PASS"]
            if name:
                args += ["-name", name]
            if legacy:
                args += ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"]
            data = _run(args, cwd=d, env_extra={"TESTCA_PFX_PASS": password})
        Path(path).write_bytes(data)
        return data


def cross_sign(ca: TestCA, by: TestCA, **kwargs) -> str:
    """``ca``'s root cross-signed by ``by``'s root; see TestCA.cross_signed_by."""
    return ca.cross_signed_by(by, **kwargs)


# ---------------------------------------------------------------------- CLI

_EPILOG = """\
examples:
  # create (or reuse) a CA in /tmp/amtca and print the root hashes
  %(prog)s --workdir /tmp/amtca init

  # sign a CSR (PEM, IIS "NEW CERTIFICATE REQUEST" or DER) like an AMT CA
  # and write a Sectigo-style zip: <cn>.crt, <Intermediate>.crt, <Root>.crt
  %(prog)s --workdir /tmp/amtca sign --csr amt.csr --out-zip delivery.zip

  # a legacy AMT certificate: OU "Intel(R) Client Setup Certificate", no OID
  %(prog)s --workdir /tmp/amtca sign --csr amt.csr --legacy-ou --no-amt-oid --out-zip legacy.zip

  # key + certificate made here, as a PFX
  %(prog)s --workdir /tmp/amtca issue --cn amt.example.com --out-pfx amt.pfx --password secret

  # the root hash alone (to paste into MEBx or an amtcertd trust list)
  %(prog)s --workdir /tmp/amtca show --field sha256

The CA lives in the work directory (root.key, root.crt, inter.key,
inter.crt, ...); every command reuses it, `init --force` replaces it.
Times are UTC 'YYYYMMDDHHMMSSZ'. For tests only: keys are not protected.
"""


def _add_sign_options(p: argparse.ArgumentParser, cn_override: bool = True):
    g = p.add_argument_group("certificate contents")
    g.add_argument("--days", type=int, default=200, help="validity in days (default 200, the 2026 CA/B cap)")
    g.add_argument("--not-before", metavar="YYYYMMDDHHMMSSZ", help="explicit notBefore (UTC)")
    g.add_argument("--not-after", metavar="YYYYMMDDHHMMSSZ", help="explicit notAfter (UTC); e.g. in the past for an expired leaf")
    g.add_argument("--ou", help="add this OU to the subject")
    g.add_argument("--legacy-ou", action="store_true", help=f'add OU "{AMT_LEGACY_OU}"')
    g.add_argument("--no-amt-oid", action="store_true", help=f"leave the AMT EKU {AMT_OID} out (serverAuth only)")
    g.add_argument("--client-auth", action="store_true", help="add clientAuth to the EKU")
    g.add_argument("--eku", help="explicit EKU list, comma separated (serverAuth,amt,clientAuth or OIDs); 'none' = no EKU extension")
    if cn_override:
        g.add_argument("--cn", dest="cn_override", help="replace the subject CN")
    g.add_argument("--san", action="append", help="SAN to use instead of the CSR's dNSNames (repeatable)")
    g.add_argument("--sig", default="sha256", choices=SIGS, help="leaf signature digest (default sha256)")
    o = p.add_argument_group("output")
    o.add_argument("--out-zip", help="write a delivery zip")
    o.add_argument("--layout", default="sectigo", choices=("sectigo", "nested", "bundle"),
                   help="zip layout (default sectigo: three flat PEM .crt files)")
    o.add_argument("--out-cert", help="write the leaf PEM")
    o.add_argument("--out-chain", help="write leaf, intermediate and root as one PEM")
    o.add_argument("--out-p7b", help="write a PKCS#7 (PEM) with leaf, intermediate, root")


def _sign_kwargs(a) -> dict:
    if a.eku is not None:
        eku = () if a.eku.strip().lower() == "none" else tuple(e.strip() for e in a.eku.split(",") if e.strip())
    else:
        eku = ("serverAuth",) if a.no_amt_oid else ("serverAuth", "amt")
        if a.client_auth:
            eku += ("clientAuth",)
    ou = AMT_LEGACY_OU if a.legacy_ou else a.ou
    return dict(days=a.days, eku=eku, ou=ou, sig=a.sig, not_before=a.not_before,
                not_after=a.not_after, cn=a.cn_override, sans=a.san)


def _write_outputs(ca: TestCA, leaf: str, a, out=sys.stdout):
    if a.out_cert:
        _write(Path(a.out_cert), leaf)
        print(f"leaf:        {a.out_cert}", file=out)
    if a.out_chain:
        _write(Path(a.out_chain), ca.bundle_pem(leaf))
        print(f"chain:       {a.out_chain}", file=out)
    if a.out_p7b:
        ca.delivery_p7b(leaf, a.out_p7b)
        print(f"p7b:         {a.out_p7b}", file=out)
    if a.out_zip:
        names = ca.delivery_zip(leaf, a.out_zip, layout=a.layout)
        print(f"zip:         {a.out_zip} ({a.layout}: {', '.join(names)})", file=out)


def _print_ca(ca: TestCA, out=sys.stdout):
    print(f"root:        {subject_of(ca.root_pem)}  ({ca.root_path})", file=out)
    print(f"issuing CA:  {subject_of(ca.inter_pem)}  ({ca.inter_path})", file=out)
    print(f"root SHA-256: {ca.root_sha256}", file=out)
    print(f"root SHA-1:   {ca.root_sha1}", file=out)
    print(f"root SHA-384: {ca.root_sha384}", file=out)


def _print_leaf(leaf: str, out=sys.stdout):
    nb, na = dates_of(leaf)
    print(f"leaf:        {subject_of(leaf)}", file=out)
    print(f"validity:    {nb:%Y-%m-%d %H:%M:%S}Z .. {na:%Y-%m-%d %H:%M:%S}Z", file=out)


def _open_ca(a, out=sys.stdout) -> TestCA:
    if TestCA.exists(a.workdir):
        return TestCA.load(a.workdir)
    print(f"(no CA in {a.workdir}: creating one with default settings)", file=out)
    return TestCA(a.workdir)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="testca.py",
        description="A throw-away test CA that signs Intel AMT provisioning certificates "
                    "(serverAuth + AMT OID 2.16.840.1.113741.1.2.3) and writes CA-style "
                    "deliveries (zip, p7b, pfx) for amtcertd's tests and walkthroughs. "
                    "Needs only python3 and the openssl command.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", required=True, help="directory that holds the CA (created if needed)")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create the CA in --workdir, or reuse the one there",
                       description="Create a root and an issuing CA in --workdir (reused when present).")
    p.add_argument("--root-cn", default="amtcertd Test Root CA", help="root CN or full subject '/C=../O=../CN=..'")
    p.add_argument("--inter-cn", default="amtcertd Test Issuing CA", help="issuing CA CN or full subject")
    p.add_argument("--key-bits", type=int, default=2048)
    p.add_argument("--root-sig", default="sha256", choices=SIGS, help="root self-signature digest (sha1 = AAA-style legacy root)")
    p.add_argument("--inter-sig", default="sha256", choices=SIGS)
    p.add_argument("--root-days", type=int, default=3650)
    p.add_argument("--inter-days", type=int, default=1825)
    p.add_argument("--force", action="store_true", help="replace an existing CA")

    p = sub.add_parser("show", help="print the CA's subjects and root hashes",
                       description="Print the CA's subjects and root hashes.")
    p.add_argument("--field", choices=("sha256", "sha1", "sha384", "root", "inter"),
                   help="print only this (hash hex, or the PEM of root/inter)")

    p = sub.add_parser("sign", help="sign a CSR like an AMT CA and write the delivery",
                       description="Sign a CSR (PEM, IIS-style or DER) with the issuing CA: subject and "
                                   "dNSName SANs from the CSR, EKU serverAuth + AMT OID unless told "
                                   "otherwise. Prints the root SHA-256.")
    p.add_argument("--csr", required=True, help="CSR file")
    _add_sign_options(p)

    p = sub.add_parser("issue", help="make a key and a leaf here (PFX, PEM, zip)",
                       description="Make a key and CSR for --cn, sign it and write the outputs.")
    p.add_argument("--cn", required=True, help="subject CN (also the requested SAN)")
    p.add_argument("--key-type", default="rsa", choices=("rsa", "ec"))
    p.add_argument("--key-bits", type=int, default=2048)
    p.add_argument("--out-key", help="write the private key (PKCS#8 PEM)")
    p.add_argument("--out-pfx", help="write a PFX with key, leaf, intermediate, root")
    p.add_argument("--password", default="", help="PFX password")
    p.add_argument("--pfx-legacy", action="store_true", help="3DES + SHA-1 MAC PFX")
    p.add_argument("--pfx-no-root", action="store_true", help="leave the root out of the PFX")
    _add_sign_options(p, cn_override=False)
    p.set_defaults(cn_override=None)

    p = sub.add_parser("cross", help="cross-sign this CA's root by another CA's root",
                       description="Write a twin of this CA's root (same subject and key) issued by "
                                   "the root of the CA in --by.")
    p.add_argument("--by", required=True, help="work directory of the signing (older) CA")
    p.add_argument("--out", required=True, help="output PEM file")

    a = ap.parse_args(argv)
    out = sys.stdout
    try:
        if a.cmd == "init":
            if TestCA.exists(a.workdir) and not a.force:
                ca = TestCA.load(a.workdir)
                print(f"reusing CA in {a.workdir}", file=out)
            else:
                ca = TestCA(a.workdir, root_cn=a.root_cn, inter_cn=a.inter_cn, key_bits=a.key_bits,
                            root_sig=a.root_sig, inter_sig=a.inter_sig, root_days=a.root_days,
                            inter_days=a.inter_days)
                print(f"created CA in {a.workdir}", file=out)
            _print_ca(ca, out)
        elif a.cmd == "show":
            ca = TestCA.load(a.workdir)
            if a.field:
                print({"sha256": ca.root_sha256, "sha1": ca.root_sha1, "sha384": ca.root_sha384,
                       "root": ca.root_pem.rstrip("\n"), "inter": ca.inter_pem.rstrip("\n")}[a.field], file=out)
            else:
                _print_ca(ca, out)
        elif a.cmd == "sign":
            ca = _open_ca(a, out)
            if not (a.out_zip or a.out_cert or a.out_chain or a.out_p7b):
                raise ValueError("sign: give at least one of --out-zip, --out-cert, --out-chain, --out-p7b")
            leaf = ca.sign_csr(Path(a.csr).read_bytes(), **_sign_kwargs(a))
            print(f"root SHA-256: {ca.root_sha256}", file=out)
            _print_leaf(leaf, out)
            _write_outputs(ca, leaf, a, out)
        elif a.cmd == "issue":
            ca = _open_ca(a, out)
            kw = _sign_kwargs(a)
            kw.pop("cn")
            key, leaf = ca.issue(a.cn, key_bits=a.key_bits, key_type=a.key_type, **kw)
            print(f"root SHA-256: {ca.root_sha256}", file=out)
            _print_leaf(leaf, out)
            if a.out_key:
                _write(Path(a.out_key), key)
                os.chmod(a.out_key, 0o600)
                print(f"key:         {a.out_key}", file=out)
            if a.out_pfx:
                ca.delivery_pfx(key, leaf, a.out_pfx, a.password,
                                include_root=not a.pfx_no_root, legacy=a.pfx_legacy)
                print(f"pfx:         {a.out_pfx}", file=out)
            _write_outputs(ca, leaf, a, out)
        elif a.cmd == "cross":
            ca = TestCA.load(a.workdir)
            other = TestCA.load(a.by)
            pem = ca.cross_signed_by(other)
            _write(Path(a.out), pem)
            print(f"cross-signed: {subject_of(pem)} issued by {issuer_of(pem)} -> {a.out}", file=out)
    except (OpenSSLError, FileNotFoundError, ValueError) as e:
        print(f"testca: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
