"""EPUB reading: spine order, front matter/index told apart, EPUB 2 guide, zip limits, hostile hrefs."""

from __future__ import annotations

import io
import zipfile

import pytest

from kllama.formats.epub import EpubError, EpubLimits, read_epub, resolve
from tools.make_demo.science_books import chapters, make_epub


def _zip(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_spine_order_front_matter_and_index(tmp_path):
    chaps = chapters(1, n=3, paras=2)
    path = tmp_path / "b.epub"
    path.write_bytes(make_epub("Heat", "A. Author", chaps, ligatures=True))
    book = read_epub(str(path))
    assert (book.title, book.creator, book.language) == ("Heat", "A. Author", "en")
    kinds = [(i.href.split("/")[-1], i.kind) for i in book.items]
    assert kinds == [("cover.xhtml", "front"), ("title.xhtml", "front"), ("legal.xhtml", "front"),
                     ("nav.xhtml", "front"), ("ch1.xhtml", "content"), ("ch2.xhtml", "content"),
                     ("ch3.xhtml", "content"), ("back.xhtml", "index")]
    content = [i for i in book.items if i.kind == "content"]
    assert content[0].text.startswith(chaps[0][0] + "\n\n")
    assert content[1].text.split("\n\n")[1].replace("\ufb01", "fi").replace("\ufb02", "fl") == chaps[1][1][0]


def _epub2(spine_files: dict[str, str], guide: str = "", extra: dict | None = None) -> bytes:
    manifest = "".join(f'<item id="i{k}" href="{n}" media-type="application/xhtml+xml"/>'
                       for k, n in enumerate(spine_files))
    spine = "".join(f'<itemref idref="i{k}"/>' for k in range(len(spine_files)))
    opf = (f'<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0"><metadata/>'
           f"<manifest>{manifest}</manifest><spine>{spine}</spine><guide>{guide}</guide></package>")
    files = {"mimetype": "application/epub+zip",
             "META-INF/container.xml": '<container><rootfiles><rootfile full-path="content.opf"/></rootfiles>'
                                       "</container>", "content.opf": opf}
    files.update({n: f"<html><body>{b}</body></html>" for n, b in spine_files.items()})
    files.update(extra or {})
    return _zip(files)


def test_epub2_guide_headings_and_entities(tmp_path):
    data = _epub2({"a.html": "<p>Printed in the dark.</p>", "b.html": "<h1>Contents</h1><p>1 Heat</p>",
                   "c.html": "<h2>Heat</h2><p>Heat&nbsp;flows from hot&mdash;to cold.</p>",
                   "d.html": "<h1>Index</h1><p>heat, 3</p>"},
                  guide='<reference type="copyright-page" href="a.html"/>')
    path = tmp_path / "b.epub"
    path.write_bytes(data)
    book = read_epub(str(path))
    assert [i.kind for i in book.items] == ["front", "front", "content", "index"]
    assert book.items[2].text == "Heat\n\nHeat flows from hot\u2014to cold."


def test_hostile_hrefs_never_leave_the_archive(tmp_path):
    assert resolve("OEBPS", "../../etc/passwd") is None
    assert resolve("", "/etc/passwd") is None
    assert resolve("", "file:///etc/passwd") is None
    assert resolve("OEBPS/text", "../img/a%20b.png#x") == "OEBPS/img/a b.png"
    data = _epub2({"../../../../etc/passwd": "", "ok.html": "<p>fine text</p>"})
    path = tmp_path / "b.epub"
    path.write_bytes(data)
    book = read_epub(str(path))
    assert [i.href for i in book.items] == ["ok.html"]


def test_limits_and_broken_archives(tmp_path):
    bomb = tmp_path / "bomb.epub"
    bomb.write_bytes(_epub2({"a.html": "<p>x</p>"}, extra={"big.bin": b"\0" * (8 << 20)}))
    with pytest.raises(EpubError) as e:
        read_epub(str(bomb))
    assert e.value.reason == "epub_limits"
    many = tmp_path / "many.epub"
    many.write_bytes(_epub2({"a.html": "<p>x</p>"}, extra={f"f{i}": "x" for i in range(50)}))
    with pytest.raises(EpubError):
        read_epub(str(many), EpubLimits(max_members=20))
    notzip = tmp_path / "n.epub"
    notzip.write_bytes(b"not a zip at all")
    with pytest.raises(EpubError) as e:
        read_epub(str(notzip))
    assert e.value.reason == "epub_not_a_zip"
    nocont = tmp_path / "c.epub"
    nocont.write_bytes(_zip({"mimetype": "application/epub+zip"}))
    with pytest.raises(EpubError) as e:
        read_epub(str(nocont))
    assert e.value.reason == "epub_no_container"
    entity = tmp_path / "e.epub"
    entity.write_bytes(_zip({"META-INF/container.xml": '<!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                                       '<container><rootfiles><rootfile full-path="&x;"/>'
                                                       "</rootfiles></container>"}))
    with pytest.raises(EpubError) as e:
        read_epub(str(entity))
    assert e.value.reason in ("epub_no_package", "epub_bad_package")
