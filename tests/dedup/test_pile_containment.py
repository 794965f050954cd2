"""G3's Pile test on a small version of the labelled evaluation set (tools/pile_eval.py): real test-data documents
rendered our way and the Pile's way (pandoc Markdown for arXiv, mwparserfromhell for Wikipedia plus revised
articles, <= 3 answers of score >= 3 for StackExchange, licence headers kept for GitHub, plain-text books) and
unrelated ones, through the real index and ``pile_label`` step. Goals: recall >= 95% per source on documents >= 80%
contained, <= 1% false labels on unrelated documents."""

import os
import shutil

import pytest

from tools import pile_eval


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    if shutil.which("pandoc") is None and os.environ.get("CI"):
        pytest.fail("pandoc is missing (.ci/run installs Debian's package): the arXiv part needs it")
    es = pile_eval.build("small")
    out = pile_eval.run_labelling(es, tmp_path_factory.mktemp("pile-eval"))
    return es, out


def test_recall_per_source_and_false_labels(evaluated):
    es, out = evaluated
    labelled = [lab is not None for lab in out.labels]
    s = pile_eval.score(es, labelled)
    expected = {"wikipedia", "stackexchange", "github", "books", "c4"}
    if shutil.which("pandoc"):
        expected.add("arxiv")
    assert set(s.recall) >= expected
    for source, (hit, n) in s.recall.items():
        assert n and hit >= 0.95 * n, (source, hit, n)
    assert s.false[1] >= 40 and s.false[0] <= 0.01 * s.false[1], s.false
    # the revised Wikipedia articles (containment >= 0.8, Jaccard ~0.5) are found; the band test missed them
    kinds = pile_eval.score(es, labelled, by_kind=True)
    hit, n = kinds.recall["wikipedia:revised"]
    assert n >= 3 and hit == n
    bands = pile_eval.score(es, pile_eval.band_labels(es), by_kind=True)
    assert bands.recall.get("wikipedia:revised", (0, 0))[0] < n


def test_estimates_agree_with_the_exact_containment(evaluated):
    es, out = evaluated
    for d, lab, est in zip(es.docs, out.labels, out.estimates, strict=True):
        if lab == "near":
            assert est is not None and abs(est - d.containment) < 0.25, (d.source, d.key, est, d.containment)
    meta = out.index_meta
    assert meta["rows"]["exact"] == len(es.pile) and meta["rows"]["sketch"] >= 16 * len(es.pile) * 0.9
