import math

import pytest

from kllama.core.document import Document
from kllama.core.ledger import Ledger
from kllama.filters.ccnet import CCNetLangId, CCNetPerplexity, load_cutoffs, perplexity
from kllama.filters.wiki_classifier import WikiReferenceClassifier
from kllama.text.ccnet_normalize import normalize
from tools.demo_corpus import paragraph, salad_line, web_sentence, wiki_sentence


def _doc(text, lang=None):
    return Document(id=text[:20], text=text, source="commoncrawl", lang=lang)


def test_normalize_is_ccnets_document_normalization():
    assert normalize("  Élan Vital 2024 — «café»\nSecond line\tend ") == 'elan vital 0000  -  "cafe"second lineend'
    assert normalize("１２３") == "000"  # digits fold before the punctuation map (whose fullwidth-1 entry never fires)
    assert normalize("") == ""


def test_langid_uses_text_without_newlines_threshold_and_keep():
    import random

    rng = random.Random(7)
    en = "\n".join(paragraph(rng, "wiki", 3) for _ in range(3))
    de = "\n".join(paragraph(rng, "de", 3) for _ in range(3))
    step = CCNetLangId(threshold=0.5, keep=["en"])  # the default model: fastText's real lid.176
    labels, scores = step.predict([en, de])
    assert labels == ["en", "de"] and all(s >= 0.5 for s in scores)
    assert scores[0] == round(scores[0], 2)
    ledger = Ledger()
    out = step.process([_doc(en), _doc(de)], ledger)
    assert [d.lang for d in out] == ["en"] and out[0].fields["lang_score"] >= 0.5
    assert ledger.dropped == {"lang": 1} and ledger.stats["lang_not_kept"] == 1
    strict = CCNetLangId(threshold=1.01)
    ledger = Ledger()
    assert strict.process([_doc(en)], ledger) == [] and ledger.stats["lang_below_threshold"] == 1


def test_perplexity_formula_and_buckets():
    import random

    import kenlm

    from kllama.models import resolve_model

    rng = random.Random(3)
    good = " ".join(wiki_sentence(rng) for _ in range(6))
    bad = " ".join(salad_line(rng) for _ in range(3))
    spam = " ".join(web_sentence(rng) for _ in range(6))
    step = CCNetPerplexity(lm_dir="demo:lm", cutoffs={"en": [50.0, 300.0]}, keep_buckets=["head", "middle"])
    # the formula by hand: SentencePiece pieces of the normalized doc, KenLM with <s> </s>
    sp, _ = step.models["en"]
    pieces = " ".join(sp.encode(normalize(good), out_type=str))
    lm = kenlm.Model(str(resolve_model("demo:lm") / "en.arpa"))
    expected = round(10 ** (-lm.score(pieces) / (len(pieces.split()) + 1)), 1)
    assert step.score(good, "en") == expected
    assert perplexity(-4.0, 2) == pytest.approx(100.0)
    pp_good, pp_bad, pp_spam = (step.score(t, "en") for t in (good, bad, spam))
    assert pp_good < pp_bad < pp_spam
    assert step.bucket(10.0, "xx") == "all"
    assert step.score(good, "xx") is None
    ledger = Ledger()
    docs = [_doc(good, "en"), _doc(bad, "en"), _doc(spam, "en"), _doc(good, "de")]
    out = step.process(docs, ledger)
    assert [d.fields["bucket"] for d in out] == [step.bucket(pp_good, "en"), step.bucket(pp_bad, "en")]
    assert ledger.dropped == {"perplexity_bucket": 2}  # spam is tail, German has no LM: bucket "all"
    assert ledger.stats["bucket_all"] == 1 and not math.isnan(out[0].fields["perplexity"])


def test_perplexity_buckets_at_both_cutoffs_are_ccnets():
    """cc_net's PerplexityBucket: ``pp < head`` -> head, ``pp < tail`` -> middle, else tail."""
    step = CCNetPerplexity(lm_dir="demo:lm", cutoffs={"en": [50.0, 300.0]})
    assert step.bucket(49.9, "en") == "head"
    assert step.bucket(50.0, "en") == "middle"  # exactly at the head cutoff: not head
    assert step.bucket(299.9, "en") == "middle"
    assert step.bucket(300.0, "en") == "tail"  # exactly at the tail cutoff: tail (dropped by default)
    assert step.bucket(0.0, "en") == "head" and step.bucket(1e9, "en") == "tail"
    ledger = Ledger()
    step.score = lambda text, lang: float(text)  # the boundary through process(), without an LM
    out = step.process([_doc("300.0", "en"), _doc("299.9", "en"), _doc("50.0", "en")], ledger)
    assert [(d.text, d.fields["bucket"]) for d in out] == [("299.9", "middle"), ("50.0", "middle")]
    assert ledger.dropped == {"perplexity_bucket": 1} and ledger.stats["bucket_tail"] == 1


def _known_language_rows(name):
    import json

    from tests.conftest import samples_dir

    with open(samples_dir("langid", name), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("name", ["wikipedia.jsonl", "commoncrawl.jsonl"])
def test_default_langid_agrees_with_the_known_language_on_real_pages(name):
    """Real Wikipedia pages (en, bg) and real crawl records (the crawl's own language: zh, de, ru, nl, en, es)."""
    rows = _known_language_rows(name)
    labels, scores = CCNetLangId().predict([r["text"] for r in rows])
    agree = sum(lab == r["lang"] for lab, r in zip(labels, rows, strict=True)) / len(rows)
    assert len({r["lang"] for r in rows}) >= 2 and len(rows) >= 15
    assert agree >= 0.9, list(zip(labels, [r["lang"] for r in rows], strict=True))


def test_default_langid_is_fasttexts_176_language_model(tmp_path, monkeypatch):
    from kllama.models import packaged_lid_model, resolve_model

    monkeypatch.setenv("KLLAMA_MODELS", str(tmp_path))  # no lid.176.bin there
    step = CCNetLangId()
    assert resolve_model(step.model_spec) == packaged_lid_model()
    labels = step.model.get_labels()
    assert len(labels) == 176 and {"__label__en", "__label__de", "__label__bg", "__label__vi"} <= set(labels)


def test_cutoff_csv_semantics(tmp_path):
    rows = [",de,en"] + [f"{p},{p * 10},{p * 5 + 190}" for p in range(101)]
    path = tmp_path / "cutoff.csv"
    path.write_text("\n".join(rows) + "\n")
    assert load_cutoffs(path) == {"de": [300.0, 600.0], "en": [340.0, 490.0]}
    step = CCNetPerplexity(lm_dir="demo:lm", cutoff_csv=str(path), cutoffs={"en": [340.0, 520.0]})
    assert step.cutoffs["en"] == [340.0, 520.0] and step.cutoffs["de"] == [300.0, 600.0]


def test_wiki_classifier_keeps_encyclopedic_pages():
    import random

    rng = random.Random(11)
    wiki = paragraph(rng, "wiki", 6)
    spam = paragraph(rng, "web", 6)
    step = WikiReferenceClassifier(model="demo:wiki", threshold=0.5)
    p_wiki, p_spam = step.wiki_prob([wiki, spam])
    assert p_wiki > 0.5 > p_spam
    ledger = Ledger()
    out = step.process([_doc(wiki), _doc(spam)], ledger)
    assert [d.text for d in out] == [wiki] and ledger.dropped == {"wiki_classifier": 1}
    assert 0.5 < out[0].fields["wiki_prob"] <= 1.0


def test_wiki_classifier_refuses_a_model_without_the_label():
    step = WikiReferenceClassifier(model="packaged:lid.176.ftz")
    with pytest.raises(ValueError):
        step.wiki_prob(["text"])


def test_strip_accents_equals_the_per_character_reference():
    import random
    import unicodedata

    from kllama.text.ccnet_normalize import strip_accents

    def ref(line):
        return "".join(c for c in unicodedata.normalize("NFD", line) if unicodedata.category(c) != "Mn")

    rng = random.Random(0)
    for _ in range(2000):
        s = "".join(chr(rng.choice([rng.randint(0x20, 0x2FF), rng.randint(0x300, 0x36F), rng.randint(0x370, 0x3000),
                                    rng.randint(0xAC00, 0xD7A3)])) for _ in range(12))
        assert strip_accents(s) == ref(s)
    assert strip_accents("Crème brûlée") == "Creme brulee"
