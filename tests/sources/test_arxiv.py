"""arXiv bulk reader: the constructed bulk tars, manifest md5, old ids, and hostile archives (traversal,
links, gzip bombs, neither TeX nor tar) -- all counted drops, nothing written to disk."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
import tracemalloc

import pyarrow.parquet as pq
import pytest

from kllama.config import DATA_DIR
from kllama.core.ledger import Ledger
from kllama.sources.arxiv import (
    ArchiveRefused,
    ArxivSource,
    arxiv_id_from_member,
    bounded_gunzip,
    decode_tex,
    find_main,
    inline_inputs,
    read_tar_members,
)
from tests.conftest import samples_dir

DOC = b"\\documentclass{article}\n\\begin{document}\n\\section{Intro}\nHello.\n\\end{document}\n"


def tar_bytes(members: list[tuple[str, bytes | None, bytes]]) -> bytes:
    """A tar in memory; a member is (name, data or None, type) with type tarfile.REGTYPE/SYMTYPE/LNKTYPE."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data, kind in members:
            ti = tarfile.TarInfo(name)
            ti.type = kind
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                ti.linkname = data.decode() if data else "/etc/passwd"
                tf.addfile(ti)
            else:
                ti.size = len(data or b"")
                tf.addfile(ti, io.BytesIO(data or b""))
    return buf.getvalue()


def bulk(tmp_path, members: list[tuple[str, bytes]], name: str = "arXiv_src_2001_001.tar") -> str:
    p = tmp_path / name
    p.write_bytes(tar_bytes([(n, d, tarfile.REGTYPE) for n, d in members]))
    return str(p)


def read(path: str, **opts) -> tuple[list, Ledger]:
    led = Ledger()
    return list(ArxivSource(**opts).read(path, led)), led


def test_constructed_bulk_tars_with_manifest(tmp_path):
    src = samples_dir("arxiv", "constructed-bulk")
    reader = ArxivSource()
    paths = reader.list_inputs([str(src)])
    assert [p.rsplit("/", 1)[1] for p in paths] == [f"arXiv_src_{m}_001.tar" for m in ("1707", "1708", "1803")]
    led = Ledger()
    docs = [d for p in paths for d in reader.read(p, led)]
    assert led.stats["md5_verified"] == 3 and not led.dropped
    by_id = {d.meta["arxiv_id"]: d for d in docs}
    assert set(by_id) == {"1707.08043", "1708.00137", "1803.00001"}
    single = by_id["1707.08043"]
    assert single.meta["container"] == "tex" and single.meta["encoding"] in ("cp1252", "latin-1")
    assert "\r" not in single.text and "Hauptstaße 8" in single.text  # the address line, ß from Latin-1 byte 0xDF
    assert by_id["1708.00137"].meta["container"] == "tar" and by_id["1708.00137"].meta["main_file"] == "main.tex"
    assert single.url == "https://arxiv.org/abs/1707.08043" and single.meta["yymm"] == "1707"
    # comments are gone already (the commented \bibliography of 1708.00137 too), \% kept
    assert "%\\bibliography{biblio}" not in by_id["1708.00137"].text


def test_md5_mismatch_quarantines_the_tar(tmp_path):
    src = samples_dir("arxiv", "constructed-bulk")
    shutil.copy(src / "arXiv_src_manifest.xml", tmp_path / "arXiv_src_manifest.xml")
    bad = bytearray((src / "arXiv_src_1707_001.tar").read_bytes())
    bad[-1] ^= 1  # padding byte changed: still a valid tar, different md5
    (tmp_path / "arXiv_src_1707_001.tar").write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="md5 mismatch"):
        read(str(tmp_path / "arXiv_src_1707_001.tar"))
    docs, led = read(str(tmp_path / "arXiv_src_1707_001.tar"), verify_md5=False)
    assert len(docs) == 1


def test_demo_bulk_pdf_only_old_ids_and_inputs():
    reader = ArxivSource()
    led = Ledger()
    docs = [d for p in reader.list_inputs([str(DATA_DIR / "demo" / "arxiv")]) for d in reader.read(p, led)]
    assert led.dropped == {"pdf_only": 1} and led.stats["md5_verified"] == 2
    ids = sorted(d.meta["arxiv_id"] for d in docs)
    assert ids == ["2101.00001", "2101.00002", "math/0101001"]
    tar_paper = next(d for d in docs if d.meta["arxiv_id"] == "2101.00002")
    assert "Vectors such as" in tar_paper.text and "component by component" in tar_paper.text
    assert "\\input" not in tar_paper.text and "\\include{" not in tar_paper.text
    assert led.stats["inputs_inlined"] == 2 and "input_missing" not in led.stats  # the commented one is ignored


@pytest.mark.parametrize("member,expected", [
    ("1707/1707.08043.gz", ("1707.08043", "1707")),
    ("2301/2301.12345.gz", ("2301.12345", "2301")),
    ("0001/astro-ph0001001.gz", ("astro-ph/0001001", "0001")),
    ("0701/math.AG0701001.gz", ("math.AG/0701001", "0701")),
    ("9912/hep-th9912001.pdf", ("hep-th/9912001", "9912")),
])
def test_ids_new_and_old_style(member, expected):
    assert arxiv_id_from_member(member) == expected


# ---- hostile input

def test_path_traversal_absolute_and_links_in_paper_tar_are_refused(tmp_path):
    cases = {
        "dotdot": [("../../evil.tex", DOC, tarfile.REGTYPE)],
        "absolute": [("/tmp/evil.tex", DOC, tarfile.REGTYPE)],
        "symlink": [("main.tex", DOC, tarfile.REGTYPE), ("link.tex", b"/etc/passwd", tarfile.SYMTYPE)],
        "hardlink": [("main.tex", DOC, tarfile.REGTYPE), ("hard.tex", b"main.tex", tarfile.LNKTYPE)],
    }
    members = [(f"2001/2001.0000{i}.gz", gzip.compress(tar_bytes(m)))
               for i, m in enumerate(cases.values(), 1)]
    members.append(("2001/2001.00009.gz", gzip.compress(tar_bytes([("main.tex", DOC, tarfile.REGTYPE)]))))
    docs, led = read(bulk(tmp_path, members))
    assert led.dropped == {"unsafe_member": 4} and len(docs) == 1
    assert list(tmp_path.iterdir()) == [tmp_path / "arXiv_src_2001_001.tar"]  # nothing extracted


def test_links_and_traversal_in_the_bulk_tar_itself(tmp_path):
    p = tmp_path / "arXiv_src_2001_001.tar"
    p.write_bytes(tar_bytes([("2001/2001.00001.gz", b"/etc/passwd", tarfile.SYMTYPE),
                             ("../2001.00002.gz", gzip.compress(DOC), tarfile.REGTYPE),
                             ("2001/2001.00003.gz", gzip.compress(DOC), tarfile.REGTYPE),
                             ("2001/README.txt", b"hello", tarfile.REGTYPE)]))
    docs, led = read(str(p))
    assert len(docs) == 1 and led.dropped == {"unsafe_member": 2, "unknown_member": 1}


def test_gzip_bomb_is_refused_with_bounded_memory(tmp_path):
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)  # 64 MiB of zeros in ~64 kB
    assert len(bomb) < 200_000
    path = bulk(tmp_path, [("2001/2001.00001.gz", bomb), ("2001/2001.00002.gz", gzip.compress(DOC))])
    tracemalloc.start()
    docs, led = read(path, max_ratio=100.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert led.dropped == {"gzip_bomb": 1} and len(docs) == 1
    assert peak < 32 << 20
    docs, led = read(path, max_ratio=1e6, max_paper_bytes=8 << 20)
    assert led.dropped == {"too_large": 1}


def test_bounded_gunzip_limits_and_corruption():
    data = b"\\section{x}\n" * 1000
    assert bounded_gunzip(gzip.compress(data), 1 << 20, 100) == data
    assert bounded_gunzip(gzip.compress(data[:10]) + gzip.compress(data[10:]), 1 << 20, 100) == data
    with pytest.raises(ArchiveRefused) as e:
        bounded_gunzip(gzip.compress(data)[:-20], 1 << 20, 100)
    assert e.value.reason == "bad_gzip"
    with pytest.raises(ArchiveRefused) as e:
        bounded_gunzip(b"not gzip at all", 1 << 20, 100)
    assert e.value.reason == "bad_gzip"


def test_gz_that_is_neither_tex_nor_tar_and_other_bad_papers(tmp_path):
    members = [
        ("2001/2001.00001.gz", gzip.compress(bytes(range(256)) * 20)),  # binary, not TeX, not tar
        ("2001/2001.00002.gz", gzip.compress(b"%PDF-1.5\n...")),  # gzipped PDF
        ("2001/2001.00003.gz", b"this is not gzip"),
        ("2001/2001.00004.gz", gzip.compress(tar_bytes([("fig.png", b"\x89PNG", tarfile.REGTYPE)]))),
        ("2001/2001.00005.gz", gzip.compress(tar_bytes([(f"f{i}.tex", b"x", tarfile.REGTYPE) for i in range(30)]))),
        ("2001/2001.00006.pdf", b"%PDF-1.4"),
    ]
    docs, led = read(bulk(tmp_path, members), max_members=20)
    assert docs == []
    assert led.dropped == {"not_tex_or_tar": 1, "pdf_only": 2, "bad_gzip": 1, "no_main_tex": 1,
                           "too_many_members": 1}


def test_single_paper_gz_file_input(tmp_path):
    p = tmp_path / "2001.00001.gz"
    p.write_bytes(gzip.compress(DOC))
    docs, led = read(str(p))
    assert len(docs) == 1 and docs[0].meta["arxiv_id"] == "2001.00001"


# ---- main file, inputs, encodings

def test_find_main_and_inline_inputs_with_depth_limit_and_cycles():
    files = {
        "paper.tex": "\\documentclass{article}\n\\begin{document}\n\\input{a}\n\\input b\n\\include{sub/c}\n"
                     "\\input{missing}\n\\end{document}\n",
        "a.tex": "A-text \\input{a}\n",  # cycle
        "b.tex": "B-text\n",
        "sub/c.tex": "C-text \\input{sub/d}\n",
        "sub/d.tex": "D-text\n",
        "standalone.tex": "\\documentclass{standalone}\\begin{document}x\\end{document}",
    }
    assert find_main(files) == "paper.tex"  # neither is \\input by the other: the larger
    files["main.tex"] = files.pop("paper.tex")
    assert find_main(files) == "main.tex"
    from collections import Counter

    st = Counter()
    out = inline_inputs("main.tex", files, max_depth=8, stats=st)
    for t in ("A-text", "B-text", "C-text", "D-text"):
        assert t in out
    assert st["input_missing"] == 1 and st["input_depth_or_cycle"] == 1
    st2 = Counter()
    out2 = inline_inputs("main.tex", files, max_depth=1, stats=st2)
    assert "C-text" in out2 and "D-text" not in out2 and st2["input_depth_or_cycle"] >= 1


def test_decode_utf8_latin1_cp1252_and_crlf():
    assert decode_tex("é\r\nx\ry".encode()) == ("é\nx\ny", "utf-8")
    assert decode_tex("\ufeffa".encode()) == ("a", "utf-8")
    assert decode_tex("café\r\n".encode("latin-1")) == ("café\n", "cp1252")
    assert decode_tex(b"\x93quoted\x94") == ("\u201cquoted\u201d", "cp1252")
    assert decode_tex(b"\x81") == ("\x81", "latin-1")


def test_read_tar_members_reads_only_tex_in_memory():
    raw = tar_bytes([("main.tex", DOC, tarfile.REGTYPE), ("fig.pdf", b"%PDF", tarfile.REGTYPE),
                     ("./sec/intro.TEX", b"x", tarfile.REGTYPE)])
    assert read_tar_members(raw, 10) == {"main.tex": DOC, "sec/intro.TEX": b"x"}


@pytest.mark.slow
def test_arxiv_source_end_to_end_on_samples(tmp_path, dask_client):
    from kllama.config import load_recipe
    from kllama.pipeline import run_recipe

    recipe = load_recipe("demo", {"arxiv": [str(samples_dir("arxiv", "constructed-bulk"))]})
    recipe.run["post"] = []
    summary = run_recipe(recipe, tmp_path / "run", dask_client, progress=False)
    for name, led in summary.stages.items():
        assert led.balanced, (name, led.to_dict())
    assert summary.stages["arxiv.00-read"].docs_out == 3
    texts = {}
    for shard in summary.shards:
        t = pq.read_table(tmp_path / "run" / shard["path"])
        for m, x in zip(t.column("meta").to_pylist(), t.column("text").to_pylist(), strict=True):
            texts[m] = x
    assert len(texts) == 3
    for text in texts.values():
        assert text.lstrip().startswith(("\\section", "\\chapter", "\\subsection"))
        assert "\\begin{thebibliography}" not in text and "\\bibitem" not in text
        assert "\\newcommand" not in text and "\\documentclass" not in text


def test_truncated_bulk_tar_keeps_the_papers_before_the_cut(tmp_path):
    import random

    members = [(f"2001/2001.{i:05d}.gz", gzip.compress(DOC + b"%" + random.Random(i).randbytes(20000).replace(b"\0", b"x")))
               for i in range(6)]
    full = bulk(tmp_path, members)
    data = open(full, "rb").read()
    cut = tmp_path / "arXiv_src_2001_002.tar"
    cut.write_bytes(data[: len(data) * 2 // 3])
    docs, led = read(str(cut))
    assert 0 < len(docs) < 6 and led.dropped == {"truncated_file": 1}
