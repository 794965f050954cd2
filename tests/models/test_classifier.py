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
