"""arXiv bulk source: ``arXiv_src_YYMM_NNN.tar`` of ``YYMM/<id>.gz`` (a gzipped .tex or a gzipped tar).

Nothing is extracted to disk. Every archive is untrusted: members are read in memory with limits (member count,
uncompressed size, compression ratio), absolute paths, ``..`` and links are refused. The reader yields one
Document per paper whose text is the *flattened* main file (``\\input``/``\\include`` inlined, comments
removed, UTF-8 or Latin-1/CP1252 decoded, CRLF normalized); the ``latex_clean`` step does the LLaMA cleaning.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import re
import tarfile
import zlib
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.text.latex_clean import normalize_newlines, remove_comments

MANIFEST_NAME = "arXiv_src_manifest.xml"


class ArchiveRefused(Exception):
    """An archive broke a limit or a safety rule; ``reason`` is the ledger drop name."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def bounded_gunzip(data: bytes, max_bytes: int, max_ratio: float, chunk: int = 1 << 16) -> bytes:
    """Gunzip ``data`` (all concatenated members) without ever holding more than ``max_bytes`` of output.

    Raises ``ArchiveRefused("gzip_bomb")`` when the output passes ``max_ratio`` times the input (and 1 MiB),
    ``ArchiveRefused("too_large")`` past ``max_bytes``, ``ArchiveRefused("bad_gzip")`` on a corrupt stream.
    """
    limit_ratio = max(int(len(data) * max_ratio), 1 << 20)
    out = bytearray()
    buf = data
    while buf:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while True:
                piece = d.decompress(buf, chunk)
                out += piece
                if len(out) > max_bytes:
                    raise ArchiveRefused("too_large", f"more than {max_bytes} bytes uncompressed")
                if len(out) > limit_ratio:
                    raise ArchiveRefused("gzip_bomb", f"ratio over {max_ratio}")
                buf = d.unconsumed_tail
                if d.eof or (not piece and not buf):
                    break
        except zlib.error as exc:
            raise ArchiveRefused("bad_gzip", str(exc)) from exc
        if not d.eof:
            raise ArchiveRefused("bad_gzip", "truncated gzip stream")
        buf = d.unused_data.lstrip(b"\x00")  # trailing zero padding after the last member is common
    return bytes(out)


def _safe_name(name: str) -> str | None:
    """Normalized member name, or None when absolute, escaping with ``..``, or otherwise odd."""
    if not name or "\x00" in name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return None
    norm = posixpath.normpath(name.replace("\\", "/"))
    if norm.startswith("../") or norm == ".." or "/../" in f"/{norm}/":
        return None
    return norm.lstrip("./") if norm.startswith("./") else norm


def is_tar(raw: bytes) -> bool:
    """A tar by content: the POSIX ``ustar`` magic, or a valid v7 header checksum."""
    if len(raw) >= 262 and raw[257:262] == b"ustar":
        return True
    return len(raw) >= 512 and _old_tar_checksum_ok(raw)


def _old_tar_checksum_ok(raw: bytes) -> bool:
    """Pre-POSIX (v7) tar header check: the header checksum field matches."""
    header = raw[:512]
    try:
        stored = int(header[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    computed = sum(header[:148]) + 8 * 32 + sum(header[156:])
    return stored == computed


def read_tar_members(raw: bytes, max_members: int, keep: tuple[str, ...] = (".tex", ".ltx")) -> dict[str, bytes]:
    """The regular files of an in-memory tar whose names end with ``keep`` (case-insensitive).

    Refuses (``ArchiveRefused("unsafe_member")``) links, devices, absolute names and ``..``; more than
    ``max_members`` entries is ``too_many_members``. Data is sliced from ``raw``; nothing touches the disk.
    """
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
            for count, m in enumerate(tf, 1):
                if count > max_members:
                    raise ArchiveRefused("too_many_members", f"more than {max_members}")
                name = _safe_name(m.name)
                if name is None:
                    raise ArchiveRefused("unsafe_member", f"path {m.name!r}")
                if m.issym() or m.islnk() or m.isdev() or m.ischr() or m.isblk() or m.isfifo():
                    raise ArchiveRefused("unsafe_member", f"link or device {m.name!r}")
                if m.isdir() or not m.isfile():
                    continue
                if name.lower().endswith(keep):
                    f = tf.extractfile(m)
                    files[name] = f.read() if f is not None else b""
    except tarfile.TarError as exc:
        raise ArchiveRefused("bad_tar", str(exc)) from exc
    return files


def decode_tex(data: bytes) -> tuple[str, str]:
    """Text and encoding: UTF-8 (BOM stripped), else CP1252, else Latin-1 (never fails); CRLF -> LF."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for enc in ("utf-8", "cp1252", "latin-1"):
        try:
            return normalize_newlines(data.decode(enc)), enc
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")


_TEX_HINT = re.compile(rb"\\(documentclass|documentstyle|begin\s*\{|section|input|def\\|newcommand|title|author)")
_DOCCLASS = re.compile(r"\\document(?:class|style)\b")
_BEGIN_DOC = re.compile(r"\\begin\s*\{document\}")
_INPUT = re.compile(r"\\(input|include|subfile)(?:\s*\{([^{}]+)\}|\s+([^\s{}\\%]+))")
_MAIN_NAMES = ("main.tex", "ms.tex", "paper.tex", "article.tex")


def looks_like_tex(raw: bytes) -> bool:
    head = raw[:65536]
    if b"\x00" in head:
        return False
    return _TEX_HINT.search(head) is not None


def find_main(files: dict[str, str]) -> str | None:
    """The main file: a .tex with ``\\documentclass`` (or ``\\documentstyle``) and ``\\begin{document}``.

    Several candidates: one named main/ms/paper/article.tex, else one no other candidate inputs, else the
    largest; ties by name. A single .tex without them is used only if it is the only .tex file.
    """
    cands = [n for n, t in files.items() if _DOCCLASS.search(t) and _BEGIN_DOC.search(t)]
    if not cands:
        return None
    if len(cands) == 1:
        return cands[0]
    named = sorted(n for n in cands if posixpath.basename(n).lower() in _MAIN_NAMES)
    if named:
        return named[0]
    referenced = set()
    for n in cands:
        for m in _INPUT.finditer(files[n]):
            target = (m.group(2) or m.group(3) or "").strip()
            referenced.add(posixpath.normpath(posixpath.join(posixpath.dirname(n), target)))
            referenced.add(posixpath.normpath(posixpath.join(posixpath.dirname(n), target)) + ".tex")
    top = [n for n in cands if n not in referenced] or cands
    return sorted(top, key=lambda n: (-len(files[n]), n))[0]


def inline_inputs(name: str, files: dict[str, str], max_depth: int = 8, max_chars: int = 32 << 20,
                  stats: Counter | None = None) -> str:
    """``files[name]`` with ``\\input``/``\\include``/``\\subfile`` replaced by the named files, recursively.

    Missing files and files past ``max_depth`` or already on the inclusion stack (cycles) are left out and
    counted; the result is cut at ``max_chars`` (counted as ``inline_truncated``).
    """
    stats = stats if stats is not None else Counter()

    def resolve(base_dir: str, target: str) -> str | None:
        target = target.strip().strip('"')
        for cand in (posixpath.join(base_dir, target), target):
            cand = posixpath.normpath(cand)
            for c in (cand, cand + ".tex"):
                if c in files:
                    return c
        return None

    def expand(n: str, depth: int, stack: tuple[str, ...]) -> str:
        text = files[n]
        base = posixpath.dirname(name)  # LaTeX resolves relative to the main file's directory

        def repl(m: re.Match) -> str:
            target = m.group(2) or m.group(3) or ""
            found = resolve(base, target)
            if found is None:
                stats["input_missing"] += 1
                return ""
            if found in stack or depth >= max_depth:
                stats["input_depth_or_cycle"] += 1
                return ""
            stats["inputs_inlined"] += 1
            inner = expand(found, depth + 1, stack + (found,))
            return inner + "\n"

        return _INPUT.sub(repl, text)

    result = expand(name, 0, (name,))
    if len(result) > max_chars:
        stats["inline_truncated"] += 1
        result = result[:max_chars]
    return result


_OLD_ID = re.compile(r"^([a-z][a-z\-]*(?:\.[A-Z]{2})?)(\d{7})(v\d+)?$")
_NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(v\d+)?$")


def arxiv_id_from_member(name: str) -> tuple[str, str]:
    """``("1707.08043", "1707")`` from ``1707/1707.08043.gz``; old ids ``astro-ph0001001`` -> ``astro-ph/0001001``."""
    base = posixpath.basename(name)
    for suffix in (".gz", ".pdf", ".tar"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    parent = posixpath.basename(posixpath.dirname(name))
    m = _NEW_ID.match(base)
    if m:
        return m.group(1), parent or m.group(1)[:4]
    m = _OLD_ID.match(base)
    if m:
        return f"{m.group(1)}/{m.group(2)}", parent or m.group(2)[:4]
    return base, parent


@lru_cache(maxsize=16)
def load_manifest(path: str) -> dict[str, str]:
    """``{tar file name: md5sum}`` from ``arXiv_src_manifest.xml`` (entities and DTDs never resolved)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.parse(path, parser).getroot()
    out = {}
    for f in root.iter("file"):
        fn = f.findtext("filename")
        md5 = f.findtext("md5sum")
        if fn and md5:
            out[posixpath.basename(fn.strip())] = md5.strip().lower()
    return out


def md5_file(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@register
class ArxivSource(Source):
    """Reads bulk ``arXiv_src_*.tar`` files (or single ``<id>.gz`` papers).

    Options: ``verify_md5`` (against ``arXiv_src_manifest.xml`` beside the tar, or ``manifest_path``; a
    mismatch quarantines the tar), ``max_gz_bytes`` (compressed paper), ``max_paper_bytes`` (uncompressed),
    ``max_ratio`` (compression ratio), ``max_members`` (entries in a paper's tar), ``max_input_depth``.
    Drops: ``pdf_only``, ``bad_gzip``, ``gzip_bomb``, ``too_large``, ``bad_tar``, ``unsafe_member``,
    ``too_many_members``, ``not_tex_or_tar``, ``no_main_tex``, ``unknown_member``, ``truncated_file`` (a cut bulk
    tar: the papers before the cut are kept).
    """

    name = "arxiv"
    drop_reasons = ("too_large", "truncated_file", "unsafe_member", "pdf_only", "unknown_member", "no_main_tex",
                    "gzip_bomb", "bad_gzip", "too_many_members", "bad_tar", "not_tex_or_tar")
    patterns = ("arXiv_src_*.tar", "*.gz")

    def __init__(self, verify_md5: bool = True, manifest_path: str | None = None,
                 max_gz_bytes: int = 64 << 20, max_paper_bytes: int = 256 << 20, max_ratio: float = 100.0,
                 max_members: int = 5000, max_input_depth: int = 8, max_text_chars: int = 32 << 20,
                 **options: Any) -> None:
        super().__init__(**options)
        self.verify_md5 = verify_md5
        self.manifest_path = manifest_path
        self.max_gz_bytes = int(max_gz_bytes)
        self.max_paper_bytes = int(max_paper_bytes)
        self.max_ratio = float(max_ratio)
        self.max_members = int(max_members)
        self.max_input_depth = int(max_input_depth)
        self.max_text_chars = int(max_text_chars)

    def _check_md5(self, path: str, ledger: Ledger) -> None:
        manifest = self.manifest_path or os.path.join(os.path.dirname(path), MANIFEST_NAME)
        if not os.path.exists(manifest):
            ledger.count("md5_no_manifest")
            return
        expected = load_manifest(os.path.abspath(manifest)).get(os.path.basename(path))
        if expected is None:
            ledger.count("md5_not_in_manifest")
            return
        got = md5_file(path)
        if got != expected:
            raise ValueError(f"md5 mismatch for {os.path.basename(path)}: manifest {expected}, file {got}")
        ledger.count("md5_verified")

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        if path.endswith(".gz") and not path.endswith(".tar.gz"):
            with open(path, "rb") as f:
                data = f.read(self.max_gz_bytes + 1)
            if len(data) > self.max_gz_bytes:
                ledger.drop("too_large", 1, len(data))
                return
            doc = self._paper(os.path.basename(path), data, ledger)
            if doc is not None:
                yield doc
            return
        if self.verify_md5:
            self._check_md5(path, ledger)
        with tarfile.open(path, mode="r|") as tf:
            members = iter(tf)
            while True:
                try:
                    m = next(members)
                    doc = self._member(tf, m, ledger)
                except StopIteration:
                    break
                except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
                    # a cut or corrupt bulk tar: keep the papers before the damage, count the loss
                    ledger.drop("truncated_file")
                    ledger.count(f"truncated_file:{type(exc).__name__}")
                    return
                if doc is not None:
                    yield doc

    def _member(self, tf: tarfile.TarFile, m: tarfile.TarInfo, ledger: Ledger) -> Document | None:
        if m.isdir():
            return None
        name = _safe_name(m.name)
        if name is None or not m.isfile():
            ledger.drop("unsafe_member", 1, m.size)
            return None
        low = name.lower()
        if low.endswith(".pdf"):
            ledger.drop("pdf_only", 1, m.size)
            return None
        if not low.endswith(".gz"):
            ledger.drop("unknown_member", 1, m.size)
            return None
        if m.size > self.max_gz_bytes:
            ledger.drop("too_large", 1, m.size)
            return None
        f = tf.extractfile(m)
        data = f.read() if f is not None else b""
        if len(data) != m.size:
            raise EOFError("member cut short")
        return self._paper(name, data, ledger)

    def _paper(self, member: str, data: bytes, ledger: Ledger) -> Document | None:
        arxiv_id, yymm = arxiv_id_from_member(member)
        stats: Counter = Counter()
        try:
            raw = bounded_gunzip(data, self.max_paper_bytes, self.max_ratio)
            if is_tar(raw):
                members = read_tar_members(raw, self.max_members)
                kind = "tar"
            elif raw.startswith(b"%PDF"):
                raise ArchiveRefused("pdf_only")
            elif looks_like_tex(raw):
                members = {"main.tex": raw}
                kind = "tex"
            else:
                raise ArchiveRefused("not_tex_or_tar")
        except ArchiveRefused as exc:
            ledger.drop(exc.reason, 1, len(data))
            return None
        files: dict[str, str] = {}
        encodings: Counter = Counter()
        for n, b in members.items():
            text, enc = decode_tex(b)
            encodings[enc] += 1
            files[n] = remove_comments(text)
        main = find_main(files)
        if main is None:
            if kind == "tex" or len(files) == 1:
                main = next(iter(files), None)
            if main is None:
                ledger.drop("no_main_tex", 1, len(data))
                return None
            stats["main_without_documentclass"] += 1
        text = inline_inputs(main, files, self.max_input_depth, self.max_text_chars, stats)
        for k, v in stats.items():
            ledger.count(k, v)
        meta = {"arxiv_id": arxiv_id, "yymm": yymm, "main_file": main, "container": kind,
                "encoding": encodings.most_common(1)[0][0] if encodings else "utf-8", "tex_files": len(files)}
        return Document(id=make_id("arxiv", arxiv_id), text=text, source="arxiv",
                        url=f"https://arxiv.org/abs/{arxiv_id}", lang=None, meta=meta)

