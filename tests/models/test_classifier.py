import bz2
import random

import pyarrow as pa
import pyarrow.parquet as pq

from kllama.cli import main
from kllama.filters.wiki_classifier import WikiReferenceClassifier
from kllama.models.classifier import ref_urls
from tests.conftest import samples_dir
from tools.demo_corpus import paragraph
from tools.wet_writer import write_wet


def test_classifier_train_from_wet_positives_and_a_run_folder(tmp_path):
    rng = random.Random(5)
    pages = [{"url": f"https://cited.org/{i}", "date": "2024-05-18T00:00:00Z", "title": "T",
              "lines": [paragraph(rng, "wiki", 5) for _ in range(4)]} for i in range(60)]
    write_wet(tmp_path / "cited.warc.wet.gz", pages, "CC-MAIN-2024-22")
    texts = ["\n".join(paragraph(rng, "web", 5) for _ in range(10)) for _ in range(80)]
    shard = tmp_path / "run" / "shards" / "core" / "commoncrawl"
    shard.mkdir(parents=True)
    pq.write_table(pa.table({"text": texts, "source": ["commoncrawl"] * 80}), shard / "part-00000.parquet")
    model = tmp_path / "wiki.bin"
    rc = main(["classifier", "train", "--positives", str(tmp_path / "cited.warc.wet.gz"), "--negatives",
               str(tmp_path / "run"), "--output", str(model), "--epoch", "10", "--lr", "0.5",
               "--dim", "16"])
    assert rc == 0 and model.exists()
    step = WikiReferenceClassifier(model=str(model), threshold=0.5)
    p_wiki, p_web = step.wiki_prob([paragraph(rng, "wiki", 6), paragraph(rng, "web", 6)])
    assert p_wiki > 0.5 > p_web


def _same_side_pages(rng, n, kind, footer):
    """Pages of one register with a footer line shared by all of them (what line dedup removes)."""
    return [{"url": f"https://site{i}.org/{kind}", "date": "2024-05-18T00:00:00Z", "title": f"Title {i}",
             "lines": [paragraph(rng, kind, 4) for _ in range(4)] + [footer]} for i in range(n)]


def _run_read_stage(root, pages):
    stage = root / "stages" / "commoncrawl.00-read"
    stage.mkdir(parents=True)
    texts = ["\n".join(p["lines"]) for p in pages]
    pq.write_table(pa.table({"text": texts, "source": ["commoncrawl"] * len(texts)}), stage / "part-00000.parquet")
    # a later stage (after filters) must not be taken for the negatives
    later = root / "stages" / "commoncrawl.02-ccnet_langid"
    later.mkdir(parents=True)
    pq.write_table(pa.table({"text": ["filtered"], "source": ["commoncrawl"]}), later / "part-00000.parquet")


def test_both_sides_get_the_same_processing_so_only_content_separates_them(tmp_path, capsys):
    from kllama.commands.classifier import prepare_texts

    rng = random.Random(9)
    # same register on both sides, each with its own shared footer and the positives with a title line:
    # without the same reader and line dedup on both sides, footer and title would separate them perfectly
    pos = _same_side_pages(rng, 50, "wiki", "Retrieved from the cited site | Archive | Contact")
    neg = _same_side_pages(rng, 50, "wiki", "Home | About us | Contact | Privacy policy")
    write_wet(tmp_path / "cited.warc.wet.gz", pos, "CC-MAIN-2024-22")
    _run_read_stage(tmp_path / "run", neg)
    model = tmp_path / "same.bin"
    args = ["classifier", "train", "--positives", str(tmp_path / "cited.warc.wet.gz"), "--negatives",
            str(tmp_path / "run"), "--output", str(model), "--epoch", "10", "--lr", "0.5", "--dim", "16",
            "--min-chars", "300", "--heldout", "0.3"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "positives: 50 read" in out and "negatives: 50 read" in out and "held out 15 + 15" in out
    auc = float(out.split("AUC ")[1].split()[0])
    assert auc < 0.8, out  # nothing left to tell the sides apart by
    # the steps themselves: a line shared across documents goes, then length, then language
    texts = ["Shared line here\n" + paragraph(rng, "wiki", 4), "Shared line here\n" + paragraph(rng, "wiki", 4),
             "tiny", paragraph(rng, "de", 8)]
    kept, counts = prepare_texts(texts, min_chars=100)
    assert counts == {"in": 4, "line_dedup_empty": 0, "short": 1, "lang": 1, "out": 2}
    assert all("Shared line here" not in t for t in kept)


def test_classifier_prints_heldout_accuracy_and_auc_and_is_deterministic(tmp_path, capsys):
    rng = random.Random(4)
    write_wet(tmp_path / "cited.warc.wet.gz", _same_side_pages(rng, 60, "wiki", "Footer A"), "CC-MAIN-2024-22")
    write_wet(tmp_path / "random.warc.wet.gz", _same_side_pages(rng, 60, "web", "Footer B"), "CC-MAIN-2024-22")
    digests = []
    for name in ("a.bin", "b.bin"):
        rc = main(["classifier", "train", "--positives", str(tmp_path / "cited.warc.wet.gz"), "--negatives",
                   str(tmp_path / "random.warc.wet.gz"), "--output", str(tmp_path / name), "--epoch", "10",
                   "--lr", "0.5", "--dim", "16", "--min-chars", "300"])
        assert rc == 0
        digests.append((tmp_path / name).read_bytes())
    out = capsys.readouterr().out
    assert digests[0] == digests[1]
    acc = float(out.split("accuracy ")[1].split(",")[0])
    auc = float(out.split("AUC ")[1].split()[0])
    assert acc >= 0.9 and auc >= 0.95, out


def test_roc_auc():
    from kllama.models.classifier import roc_auc

    assert roc_auc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]) == 0.5
    assert roc_auc([0.9, 0.4, 0.6, 0.1], [1, 1, 0, 0]) == 0.75


def test_ref_urls_and_the_urls_command(tmp_path, capsys):
    text = ('Intro.<ref name="a">{{cite web |url=https://example.org/a?x=1 |title=A}}</ref> More '
            '<ref>[http://example.com/b.html Bee].</ref><ref name="c"/> no ref: https://not.org/x')
    assert ref_urls(text) == ["https://example.org/a?x=1", "http://example.com/b.html"]
    dump = tmp_path / "d.xml.bz2"
    xml = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/"><page><title>X</title><ns>0</ns>'
           f'<revision><text xml:space="preserve">{text.replace("<", "&lt;").replace(">", "&gt;")}</text>'
           '</revision></page></mediawiki>')
    dump.write_bytes(bz2.compress(xml.encode()))
    assert main(["classifier", "urls", str(dump)]) == 0
    assert capsys.readouterr().out.split() == ["https://example.org/a?x=1", "http://example.com/b.html"]


def test_urls_of_a_real_enwiki_dump_head(capsys):
    dump = samples_dir("wikipedia") / "gensim-enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    assert main(["classifier", "urls", str(dump), "--max-pages", "5"]) == 0
    urls = capsys.readouterr().out.split()
    assert len(urls) > 50 and all(u.startswith(("http://", "https://")) for u in urls)
    assert len(set(urls)) == len(urls)
