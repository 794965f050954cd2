"""Each source's public layout -> the list of files to fetch (:class:`kllama.download.RemoteFile`).

| source | listing | checksums |
|---|---|---|
| commoncrawl | ``crawl-data/<snapshot>/wet.paths.gz`` on data.commoncrawl.org | size (Content-Length) |
| wikipedia | ``<lang>wiki/<date>/dumpstatus.json``, job ``articlesdump`` | sha1 + md5 + size |

Defaults follow LLaMA (Touvron et al. 2023, section 2.1): five CommonCrawl snapshots from 2017 to 2020
(:data:`LLAMA_CC_SNAPSHOTS`; the paper does not name them, so kllama picks one per year plus a second one of
2020; RedPajama v1's five, three of them after 2020, stay available as ``redpajama``), and Wikipedia's
June–August 2022 dumps (:data:`LLAMA_WIKI_DATES`). dumps.wikimedia.org keeps only the last few months of
dumps: for 2022 dates it answers 404 and the error names the Internet Archive's copies.
| stackexchange | archive.org ``stackexchange/stackexchange_files.xml`` (per-site ``.7z``) | sha1 + md5 + size |
| arxiv | ``s3://arxiv/src/arXiv_src_manifest.xml`` (requester pays; boto3 + AWS credentials) | md5 + size |
| c4 | ``allenai/c4`` ``en/c4-{train,validation}.NNNNN-of-MMMMM.json.gz`` on the Hugging Face hub | size |
| github / urls | a URL list file: ``URL [sha256:HEX] [SIZE]`` per line | as listed |

Listings are untrusted input: every path they name is checked to stay under the output folder, and XML
listings are parsed only when they declare no DTD/entities.
"""

from __future__ import annotations

import gzip
import json
import posixpath
import re
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from kllama.download import RemoteFile
from kllama.download.http import HASHES, DownloadError, NotFoundError, fetch_bytes, verify_file

CC_BASE = "https://data.commoncrawl.org"
#: LLaMA used five CommonCrawl dumps "ranging from 2017 to 2020" without naming them: kllama's default is one
#: snapshot per year (October 2017, October 2018, April 2019 -- the one C4 was built from), January and August 2020.
LLAMA_CC_SNAPSHOTS = ("CC-MAIN-2017-43", "CC-MAIN-2018-43", "CC-MAIN-2019-18", "CC-MAIN-2020-05",
                      "CC-MAIN-2020-34")
#: RedPajama v1's five snapshots (three of them after LLaMA's window)
REDPAJAMA_CC_SNAPSHOTS = ("CC-MAIN-2019-30", "CC-MAIN-2020-05", "CC-MAIN-2021-04", "CC-MAIN-2022-05",
                          "CC-MAIN-2023-06")
#: ``kllama download commoncrawl --snapshots NAME``
CC_SNAPSHOT_SETS = {"llama": LLAMA_CC_SNAPSHOTS, "redpajama": REDPAJAMA_CC_SNAPSHOTS}
CC_SNAPSHOTS = LLAMA_CC_SNAPSHOTS
WIKI_BASE = "https://dumps.wikimedia.org"
#: LLaMA: "Wikipedia dumps from the June-August 2022 period"; tried newest first, per language
LLAMA_WIKI_DATES = ("20220820", "20220801", "20220720", "20220701", "20220620", "20220601")
#: where the old dumps are kept once dumps.wikimedia.org has dropped them (one item per wiki and date)
WIKI_ARCHIVE = "https://archive.org/details/{wiki}-{date}"
SE_BASE = "https://archive.org/download/stackexchange"
C4_BASE = "https://huggingface.co/datasets/allenai/c4/resolve/main"
#: files per split of each allenai/c4 variant
C4_SPLITS = {"en": {"train": 1024, "validation": 8}, "en.noblocklist": {"train": 1024, "validation": 8},
             "realnewslike": {"train": 512, "validation": 1}}
ARXIV_BUCKET = "arxiv"
ARXIV_MANIFEST = "src/arXiv_src_manifest.xml"

_SAFE_PART = re.compile(r"^[A-Za-z0-9._+=@,~-]+$")


def safe_relpath(path: str) -> str:
    """``path`` if it is a plain relative path (no ``..``, no absolute part, ordinary characters), else an error."""
    parts = [p for p in path.split("/") if p]
    if not parts or path.startswith("/") or any(p in (".", "..") or not _SAFE_PART.match(p) for p in parts):
        raise DownloadError(f"refusing unsafe path {path!r} from a listing")
    return "/".join(parts)


def parse_xml(data: bytes, what: str) -> ET.Element:
    """Parse a small XML listing; one that declares a DTD or entities is refused."""
    head = data[:65536].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise DownloadError(f"{what}: XML with a DTD/entity declaration refused")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise DownloadError(f"{what}: not well-formed XML ({exc})") from None


def _limit(files: list[RemoteFile], limit: int | None) -> list[RemoteFile]:
    return files[:limit] if limit else files


# -- CommonCrawl -------------------------------------------------------------------------------------------
def commoncrawl_files(snapshots: list[str] | tuple[str, ...] = CC_SNAPSHOTS, base_url: str = CC_BASE,
                      limit: int | None = None, **http: Any) -> list[RemoteFile]:
    """The WET files of ``snapshots`` (from each ``wet.paths.gz``), ``limit`` files per snapshot."""
    base = base_url.rstrip("/")
    files: list[RemoteFile] = []
    for snap in snapshots:
        if not re.fullmatch(r"CC-MAIN-\d{4}-\d{2}", snap):
            raise ValueError(f"not a CommonCrawl snapshot name: {snap!r} (like CC-MAIN-2023-06)")
        listing = f"crawl-data/{snap}/wet.paths.gz"
        raw = fetch_bytes(f"{base}/{listing}", **http)
        try:
            lines = gzip.decompress(raw).decode("utf-8").split()
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise DownloadError(f"{base}/{listing}: not a gzipped path list ({exc})") from None
        files.append(RemoteFile(f"{base}/{listing}", f"commoncrawl/{listing}"))
        wet = []
        for line in lines:
            rel = safe_relpath(line.strip())
            if not rel.startswith(f"crawl-data/{snap}/") or not rel.endswith(".warc.wet.gz"):
                raise DownloadError(f"{listing}: unexpected entry {rel!r}")
            wet.append(RemoteFile(f"{base}/{rel}", f"commoncrawl/{rel}"))
        files.extend(_limit(wet, limit))
    return files


# -- Wikipedia ---------------------------------------------------------------------------------------------
def _wiki_status(base: str, wiki: str, date: str, **http: Any) -> dict[str, Any]:
    data = fetch_bytes(f"{base}/{wiki}/{date}/dumpstatus.json", **http)
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise DownloadError(f"{wiki}/{date}/dumpstatus.json: not JSON ({exc})") from None


def _archived(wiki: str, dates: tuple[str, ...] | list[str], base: str) -> str:
    where = ", ".join(WIKI_ARCHIVE.format(wiki=wiki, date=d) for d in dates)
    return (f"{base} no longer serves {wiki}'s dump(s) of {', '.join(dates)} (HTTP 404: the dump site keeps only "
            f"the last few months). The Internet Archive keeps copies of the Wikimedia dumps (collection "
            f"https://archive.org/details/wikimediadownloads): {where}. Download the "
            f"{wiki}-DATE-pages-articles*.xml.bz2 files from there (or point --base-url at a mirror with "
            f"dumps.wikimedia.org's layout), or take the current dump with --date latest")


def wikipedia_files(languages: list[str] | tuple[str, ...] | None = None, date: str = "llama",
                    base_url: str = WIKI_BASE, limit: int | None = None, **http: Any) -> list[RemoteFile]:
    """``pages-articles`` files of each language's dump of ``date``, with the sha1/md5/size of
    ``dumpstatus.json``; ``limit`` files per language.

    ``date``: ``llama`` (default: the newest finished dump among :data:`LLAMA_WIKI_DATES`, June–August 2022,
    as LLaMA), ``latest`` (the newest finished dump) or ``YYYYMMDD``. A date the site no longer serves raises
    a :class:`DownloadError` that names the Internet Archive's copies."""
    from kllama.sources.wikipedia import LLAMA_LANGUAGES

    base = base_url.rstrip("/")
    files: list[RemoteFile] = []
    for lang in languages or LLAMA_LANGUAGES:
        if not re.fullmatch(r"[a-z][a-z-]{1,11}", lang):
            raise ValueError(f"not a Wikipedia language code: {lang!r}")
        wiki = f"{lang.replace('-', '_')}wiki"
        if date == "latest":
            index = fetch_bytes(f"{base}/{wiki}/", **http).decode("utf-8", "replace")
            candidates = sorted(set(re.findall(r'href="(\d{8})/?"', index)), reverse=True)
            chosen = None
            for d in candidates[:6]:
                status = _wiki_status(base, wiki, d, **http)
                if status.get("jobs", {}).get("articlesdump", {}).get("status") == "done":
                    chosen = d
                    break
            if chosen is None:
                raise DownloadError(f"{wiki}: no finished articles dump among {candidates[:6]}")
            d = chosen
        elif date == "llama":
            d, status = "", {}
            for cand in LLAMA_WIKI_DATES:
                try:
                    status = _wiki_status(base, wiki, cand, **http)
                except NotFoundError:
                    continue
                d = cand
                if status.get("jobs", {}).get("articlesdump", {}).get("status") == "done":
                    break
            if not d:
                raise DownloadError(_archived(wiki, LLAMA_WIKI_DATES, base))
        else:
            if not re.fullmatch(r"\d{8}", date):
                raise ValueError(f"--date wants YYYYMMDD, llama or latest, not {date!r}")
            d = date
            try:
                status = _wiki_status(base, wiki, d, **http)
            except NotFoundError:
                raise DownloadError(_archived(wiki, [d], base)) from None
        job = status.get("jobs", {}).get("articlesdump", {})
        if job.get("status") != "done":
            raise DownloadError(f"{wiki}/{d}: articles dump is {job.get('status', 'missing')!r}, not done")
        mine = []
        for name, info in sorted(job.get("files", {}).items()):
            name = safe_relpath(name)
            url = info.get("url") or f"/{wiki}/{d}/{name}"
            url = urllib.parse.urljoin(base + "/", url.lstrip("/"))
            if urllib.parse.urlsplit(url).netloc != urllib.parse.urlsplit(base).netloc:
                raise DownloadError(f"{wiki}/{d}/dumpstatus.json points {name} at another host: {url}")
            sums = {k: info[k] for k in ("sha1", "md5") if info.get(k)}
            mine.append(RemoteFile(url, f"wikipedia/{wiki}/{d}/{name}", size=info.get("size"), checksums=sums))
        files.extend(_limit(mine, limit))
    return files


# -- Stack Exchange ----------------------------------------------------------------------------------------
def stackexchange_files(top_sites: int = 28, sites: list[str] | None = None, include_meta: bool = False,
                        base_url: str = SE_BASE, limit: int | None = None, **http: Any) -> list[RemoteFile]:
    """Per-site ``.7z`` archives (Stack Overflow: only ``stackoverflow.com-Posts.7z``): the ``top_sites``
    largest by archive size (meta sites excluded unless ``include_meta``) or exactly ``sites``."""
    from kllama.sources.stackexchange import is_meta_site, site_of

    base = base_url.rstrip("/")
    root = parse_xml(fetch_bytes(f"{base}/stackexchange_files.xml", **http), "stackexchange_files.xml")
    by_site: dict[str, RemoteFile] = {}
    for el in root.iter("file"):
        name = el.get("name", "")
        if not name.endswith(".7z") or "/" in name:
            continue
        if name.startswith("stackoverflow.com-") and not name.endswith("-Posts.7z"):
            continue
        site = site_of(name)
        if is_meta_site(site) and not include_meta:
            continue
        size_text = (el.findtext("size") or "").strip()
        sums = {h: el.findtext(h).strip().lower() for h in ("sha1", "md5") if (el.findtext(h) or "").strip()}
        by_site[site] = RemoteFile(f"{base}/{urllib.parse.quote(name)}", f"stackexchange/{safe_relpath(name)}",
                                   size=int(size_text) if size_text.isdigit() else None, checksums=sums)
    if sites:
        missing = sorted(set(sites) - set(by_site))
        if missing:
            raise DownloadError(f"stackexchange: no archive for site(s) {missing}")
        chosen = sorted(sites)
    else:
        chosen = sorted(by_site, key=lambda s: (-(by_site[s].size or 0), s))[:top_sites]
    return _limit([by_site[s] for s in chosen], limit)


# -- arXiv (requester-pays S3) -----------------------------------------------------------------------------
def parse_arxiv_manifest(data: bytes) -> list[dict[str, Any]]:
    """Entries of ``arXiv_src_manifest.xml``: filename, md5sum, size, yymm, seq_num, num_items."""
    root = parse_xml(data, "arXiv_src_manifest.xml")
    out = []
    for el in root.iter("file"):
        entry = {k: (el.findtext(k) or "").strip() for k in ("filename", "md5sum", "size", "yymm", "seq_num",
                                                              "num_items")}
        if not entry["filename"].startswith("src/") or not entry["filename"].endswith(".tar"):
            continue
        safe_relpath(entry["filename"])
        entry["size"] = int(entry["size"]) if entry["size"].isdigit() else None
        out.append(entry)
    return out


def _s3_client():
    try:
        import boto3
    except ImportError:
        raise DownloadError(
            "arXiv's bulk sources are in the requester-pays S3 bucket s3://arxiv/src/ (you pay the transfer, "
            "about 0.09 USD/GB): `pip install boto3` and configure AWS credentials (`aws configure`, or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), then rerun") from None
    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise DownloadError("arXiv: no AWS credentials configured (the bucket is requester-pays; see `aws configure`)")
    return session.client("s3", region_name="us-east-1")


def _s3_fetch(f: RemoteFile, dest: Path, on_bytes=None, retries: int = 5) -> Path:
    """Resumable requester-pays download of ``f.url`` (``s3://bucket/key``) with an md5/size check."""
    import time

    if dest.exists() and verify_file(dest, f.size, f.checksums) is None:
        return dest
    bucket, key = f.url[len("s3://"):].split("/", 1)
    s3 = _s3_client()
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        try:
            kw = {"Range": f"bytes={have}-"} if have else {}
            body = s3.get_object(Bucket=bucket, Key=key, RequestPayer="requester", **kw)["Body"]
            with open(part, "ab" if have else "wb") as out:
                while block := body.read(1 << 20):
                    out.write(block)
                    if on_bytes:
                        on_bytes(len(block))
            break
        except Exception as exc:  # noqa: BLE001 - botocore raises many kinds; retried then reported
            if attempt == retries:
                raise DownloadError(f"{f.url}: {exc}") from None
            time.sleep(min(60, 2 ** attempt))
    problem = verify_file(part, f.size, f.checksums)
    if problem:
        part.unlink()
        from kllama.download.http import ChecksumError

        raise ChecksumError(f"{f.url}: {problem}; the download was deleted")
    part.replace(dest)
    return dest


def arxiv_files(limit: int | None = None, yymm_from: str | None = None, yymm_to: str | None = None,
                manifest: str | None = None, **_http: Any) -> list[RemoteFile]:
    """The bulk source tars listed in the bucket's manifest (or a local copy of it), optionally by month."""
    if manifest:
        data = Path(manifest).read_bytes()
    else:
        s3 = _s3_client()
        data = s3.get_object(Bucket=ARXIV_BUCKET, Key=ARXIV_MANIFEST, RequestPayer="requester")["Body"].read()
    files = []
    for e in parse_arxiv_manifest(data):
        if (yymm_from and e["yymm"] < yymm_from) or (yymm_to and e["yymm"] > yymm_to):
            continue
        files.append(RemoteFile(f"s3://{ARXIV_BUCKET}/{e['filename']}", f"arxiv/{e['filename']}", size=e["size"],
                                checksums={"md5": e["md5sum"]} if e["md5sum"] else {}, fetch=_s3_fetch))
    return _limit(files, limit)


# -- C4 and URL lists --------------------------------------------------------------------------------------
def c4_files(variant: str = "en", splits: tuple[str, ...] = ("train",), base_url: str = C4_BASE,
             limit: int | None = None, **_http: Any) -> list[RemoteFile]:
    """``allenai/c4`` files by their fixed names (``c4-train.00000-of-01024.json.gz``, ...), per split."""
    if variant not in C4_SPLITS:
        raise ValueError(f"c4 variant must be one of {sorted(C4_SPLITS)}, not {variant!r}")
    base = base_url.rstrip("/")
    files = []
    for split in splits:
        n = C4_SPLITS[variant][split]
        names = [f"{variant}/c4-{split}.{i:05d}-of-{n:05d}.json.gz" for i in range(n)]
        files.extend(_limit([RemoteFile(f"{base}/{name}", f"c4/{name}") for name in names], limit))
    return files


def url_list_files(urls_file: str | Path, source: str, limit: int | None = None, **_http: Any
                   ) -> list[RemoteFile]:
    """A URL list: one ``URL [ALGO:HEX ...] [SIZE]`` per line (``#`` comments); a bare 64-hex is sha256.

    Files land in ``SOURCE/HOST/PATH`` of the URL.
    """
    files = []
    for n, line in enumerate(Path(urls_file).read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        url, *rest = line.split()
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise ValueError(f"{urls_file}:{n}: not an http(s) URL: {url!r}")
        sums: dict[str, str] = {}
        size = None
        for tok in rest:
            if ":" in tok and tok.split(":", 1)[0].lower() in HASHES:
                algo, hexd = tok.split(":", 1)
                sums[algo.lower()] = hexd.lower()
            elif re.fullmatch(r"[0-9a-fA-F]{64}", tok):
                sums["sha256"] = tok.lower()
            elif tok.isdigit():
                size = int(tok)
            else:
                raise ValueError(f"{urls_file}:{n}: cannot read {tok!r} (ALGO:HEX or SIZE)")
        path = posixpath.normpath(urllib.parse.unquote(u.path)).lstrip("/")
        host = u.hostname.replace(":", "_") if u.hostname else "host"
        if u.port:
            host += f"_{u.port}"
        files.append(RemoteFile(url, safe_relpath(f"{source}/{host}/{path}"), size=size, checksums=sums))
    return _limit(files, limit)


#: ``kllama download SOURCE``: the sources and their planners
PLANNERS = {
    "commoncrawl": commoncrawl_files,
    "wikipedia": wikipedia_files,
    "stackexchange": stackexchange_files,
    "arxiv": arxiv_files,
    "c4": c4_files,
}
#: sources whose dumps have no one public layout: a URL list (``--urls``) names them
URL_LIST_SOURCES = ("github", "code", "books", "urls")
