"""The one variant selection rule: groups, replacements (slot, counterpart groups, epochs), recipe checks."""

import pytest

from kllama.core.variants import check_variant, replacement_volumes, select_variant, variant_weights


def _shard(source, group, docs, nbytes=None):
    return {"path": f"shards/{group}/{source}/part-00000.parquet", "source": source, "group": group, "docs": docs,
            "bytes": nbytes if nbytes is not None else docs * 1000, "sha256": f"{source}-{group}"}


MANIFEST = {
    "shards": [_shard("books", "core", 3), _shard("books", "pile-overlap", 40), _shard("wikipedia", "core", 50),
               _shard("wikipedia", "pile-overlap", 5), _shard("science_books", "extra", 20),
               _shard("science_books", "extra-pile-overlap", 2), _shard("maths", "extra", 7)],
    "variants": {
        "G1": {"groups": ["core", "pile-overlap"], "weights": {"books": 2.23, "wikipedia": 2.45}},
        "G2": {"groups": ["core", "pile-overlap", "extra", "extra-pile-overlap"],
               "weights": {"books": 2.23, "wikipedia": 2.45, "science_books": 1.0, "maths": 1.0}},
        "G3": {"groups": ["core"], "weights": {"books": 2.23, "wikipedia": 2.45},
               "replace": {"books": "science_books"}},
    },
}


def _names(sel):
    return sorted((s["source"], s["group"]) for s in sel.shards)


def test_plain_variants_select_by_group():
    assert _names(select_variant(MANIFEST, "G1")) == [("books", "core"), ("books", "pile-overlap"),
                                                      ("wikipedia", "core"), ("wikipedia", "pile-overlap")]
    g2 = select_variant(MANIFEST, "G2")
    assert len(g2.shards) == 7 and g2.weights["science_books"] == 1.0
    with pytest.raises(KeyError, match="G4"):
        select_variant(MANIFEST, "G4")


def test_replacement_takes_the_slot_with_its_epochs_and_not_the_pile_overlap():
    g3 = select_variant(MANIFEST, "G3")
    # books leave, science_books' non-overlap shards (group extra, the counterpart of core) come in
    assert _names(g3) == [("science_books", "extra"), ("wikipedia", "core")]
    assert g3.weights == {"books": 2.23, "wikipedia": 2.45, "science_books": 2.23}
    assert g3.slot("science_books") == "books" and g3.slot("wikipedia") == "wikipedia"
    vol = replacement_volumes(MANIFEST, "G3")
    assert vol == [{"slot": "books", "sources": ["science_books"], "epochs": {"science_books": 2.23},
                    "before_docs": 3, "before_bytes": 3000, "after_docs": 20, "after_bytes": 20000}]


def test_replacement_list_keeps_the_slot_source_and_explicit_weights_win():
    spec = {"groups": ["core"], "weights": {"books": 2.23, "science_books": 1.5},
            "replace": {"books": ["books", "science_books"]}}
    manifest = {**MANIFEST, "variants": {"G3": spec}}
    g3 = select_variant(manifest, "G3")
    assert _names(g3) == [("books", "core"), ("science_books", "extra"), ("wikipedia", "core")]
    assert g3.weights["science_books"] == 1.5 and g3.weights["wikipedia"] == 1.0
    assert replacement_volumes(manifest, "G3")[0]["after_docs"] == 23
    assert variant_weights({"weights": {"books": 2.0}, "replace": {"books": "x"}}) == {"books": 2.0, "x": 2.0}


def test_replacement_checks_name_the_problem():
    sources = {"books", "science_books", "maths"}
    check_variant("G3", {"replace": {"books": "science_books"}}, sources)
    with pytest.raises(ValueError, match="'sciense_books' is not a source"):
        check_variant("G3", {"replace": {"books": "sciense_books"}}, sources)
    with pytest.raises(ValueError, match="fills two slots"):
        check_variant("G3", {"replace": {"books": "maths", "science_books": "maths"}}, sources)
    with pytest.raises(ValueError, match="must be a source name"):
        check_variant("G3", {"replace": {"books": 3}}, sources)
