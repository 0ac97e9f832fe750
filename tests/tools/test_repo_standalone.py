"""The repository stands alone: no file in it refers to a path outside it,
and the committed test fixtures are the ones tests/fixtures/README.md
describes.

A fresh clone must build and pass its tests with nothing beside it, so a
comment, a test or a document that points at a sibling directory (a shared
folder of documents, hooks or fixtures) or at an absolute path of one
machine is a bug. The files scanned are what git tracks plus untracked
files it does not ignore (so a new file fails before it is committed);
outside a git checkout, the whole tree minus build and dependency folders.

Run: python3 -m pytest -q tests/tools/test_repo_standalone.py
"""
import base64
import hashlib
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.realpath(os.environ.get("AMTCERTD_SRC") or os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

# Folders a tree walk skips: build output and installed dependencies, which
# git ignores too (see .gitignore).
SKIP_DIRS = {".git", "node_modules", "__pycache__", ".pytest_cache", "amtcertd-state"}

# The patterns are written so that this file does not match them itself,
# and this file is scanned like every other.
_SIB = "shar" + "ed"
OUTSIDE = [
    # a sibling folder reached by going up, one level or more
    ("parent path to a sibling folder", re.compile(r"(?:\.\./)+" + _SIB + r"\b")),
    # the same, joined from parts by os.path.join and the like
    ("parent path to a sibling folder", re.compile(r"[\"']\.\.[\"']\s*,\s*[\"']" + _SIB + r"[\"']")),
    # the shared folder's parts, however they are reached
    ("shared folder path", re.compile(r"\b" + _SIB + r"/(?:docs|fixtures|hooks)\b")),
    # absolute paths of the machine this was written on
    ("absolute workplace path", re.compile(r"(?<![\w.~-])/" + "wor" + r"k/")),
    ("absolute home path", re.compile(r"(?<![\w.~-])/" + "roo" + r"t/")),
]


def repo_files(root):
    """Relative paths of the files to scan, and how they were found."""
    try:
        top = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        top = None
    if top and os.path.realpath(top) == root:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout
        names = sorted({n.decode() for n in out.split(b"\0") if n})
        return [n for n in names if os.path.lexists(os.path.join(root, n))], "git"
    names = []
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not (rel == "." and x.startswith("build"))]
        names += [os.path.normpath(os.path.join(rel, f)) for f in files]
    return sorted(names), "walk"


def outside_refs(text):
    """(line number, what, the line) for each reference outside the repo."""
    hits = []
    for no, line in enumerate(text.splitlines(), 1):
        for what, rx in OUTSIDE:
            if rx.search(line):
                hits.append((no, what, line.strip()[:160]))
    return hits


def test_the_detector_finds_what_it_must():
    # Built at run time so that this file holds none of them literally.
    sib = "shar" + "ed"
    bad = [
        'PUBLIC = os.path.join(SRC, "..", "%s", "fixtures")' % sib,
        "snprintf(path, n, \"%%s/../%s/fixtures/public-ca/%%s\", src);" % sib,
        " * (%s/docs/amt-facts.md section 4)." % sib,
        "# see %s/hooks/before-stop" % sib,
        "Run: cd /%s/main && pytest" % ("wor" + "k"),
        "cp /%s/.bashrc x" % ("roo" + "t"),
    ]
    for line in bad:
        assert outside_refs(line), line
    good = [
        "/* ---- helpers shared by the db/ files ---- */",
        "see docs/amt-facts.md section 4",
        "tests/fixtures/public-ca/aaa-certificate-services.pem",
        "https://github.com/example/%s/blob/main/x" % ("wor" + "k"),
        "the network/%s/ split" % ("wor" + "k"),
    ]
    for line in good:
        assert not outside_refs(line), line


def test_no_file_refers_to_a_path_outside_the_repository():
    names, how = repo_files(ROOT)
    # Not vacuous: the repository has well over a hundred files.
    assert len(names) > 100, (how, len(names))
    assert "tests/tools/test_repo_standalone.py" in names, how
    problems = []
    scanned = 0
    for name in names:
        path = os.path.join(ROOT, name)
        if os.path.islink(path):
            target = os.readlink(path)
            real = os.path.realpath(path)
            if os.path.isabs(target) or not (real == ROOT or real.startswith(ROOT + os.sep)):
                problems.append("%s: symlink to %s, outside the repository" % (name, target))
            continue
        with open(path, "rb") as f:
            data = f.read()
        if b"\0" in data[:8192]:
            continue  # binary
        scanned += 1
        for no, what, line in outside_refs(data.decode("utf-8", errors="replace")):
            problems.append("%s:%d: %s: %s" % (name, no, what, line))
    assert scanned > 100, (how, scanned)
    assert not problems, "\n" + "\n".join(problems)


# ---- tests/fixtures: what the README says is what is committed ------------

def _readme_rows():
    with open(os.path.join(FIXTURES, "README.md")) as f:
        text = f.read()
    rows = re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \| `([0-9a-f]{64})` \|$", text, re.M)
    return rows


def _der_of_pem(data):
    m = re.search(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", data, re.S)
    assert m, "no PEM certificate"
    return base64.b64decode(b"".join(m.group(1).split()))


def test_fixture_readme_hashes_match_the_files():
    rows = _readme_rows()
    listed = sorted(r[0] for r in rows)
    on_disk = sorted(f for f in os.listdir(os.path.join(FIXTURES, "public-ca")))
    assert len(rows) >= 5, rows
    assert listed == on_disk, (listed, on_disk)
    for name, file_sha, cert_sha in rows:
        with open(os.path.join(FIXTURES, "public-ca", name), "rb") as f:
            data = f.read()
        assert hashlib.sha256(data).hexdigest() == file_sha, name
        assert hashlib.sha256(_der_of_pem(data)).hexdigest() == cert_sha, name

