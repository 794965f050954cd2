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
    step = CCNetLangId(model="demo:lid", threshold=0.5, keep=["en"])
    labels, scores = step.predict([en, de])
    assert labels == ["en", "de"] and all(s >= 0.5 for s in scores)
    assert scores[0] == round(scores[0], 2)
    ledger = Ledger()
    out = step.process([_doc(en), _doc(de)], ledger)
    assert [d.lang for d in out] == ["en"] and out[0].fields["lang_score"] >= 0.5
    assert ledger.dropped == {"lang": 1} and ledger.stats["lang_not_kept"] == 1
    strict = CCNetLangId(model="demo:lid", threshold=1.01)
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
    assert step.bucket(50.0, "en") == "head" and step.bucket(50.1, "en") == "middle"
    assert step.bucket(300.1, "en") == "tail" and step.bucket(10.0, "xx") == "all"
    assert step.score(good, "xx") is None
    ledger = Ledger()
    docs = [_doc(good, "en"), _doc(bad, "en"), _doc(spam, "en"), _doc(good, "de")]
    out = step.process(docs, ledger)
    assert [d.fields["bucket"] for d in out] == [step.bucket(pp_good, "en"), step.bucket(pp_bad, "en")]
    assert ledger.dropped == {"perplexity_bucket": 2}  # spam is tail, German has no LM: bucket "all"
    assert ledger.stats["bucket_all"] == 1 and not math.isnan(out[0].fields["perplexity"])


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
    step = WikiReferenceClassifier(model="demo:lid")
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
