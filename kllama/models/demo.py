"""Small real demo models trained deterministically from text bundled in the package.

* ``lid``: a fastText supervised language-id model (labels ``__label__en|de|fr|es``, the lid.176 format),
  ``thread=1`` and a fixed seed so that it is the same file on every machine;
* ``lm``: a folder with ``en.sp.model`` (SentencePiece unigram, trained on cc_net-normalized text) and
  ``en.arpa`` (modified Kneser-Ney 3-gram over the SentencePiece pieces, written by
  :mod:`kllama.models.arpa`, loaded by the ``kenlm`` module) -- the layout of cc_net's ``lm_dir``;
* ``wiki``: a fastText Wikipedia-reference classifier (``__label__wiki`` / ``__label__cc``).

Models are cached in ``$KLLAMA_CACHE/demo-models/<name>-<hash of the training text>`` and built under a
file lock, so parallel Dask workers build each one once and never see a half-written model.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from kllama.config import DATA_DIR
from kllama.models import cache_dir
from kllama.models.fasttext_train import train_fasttext_supervised

BUILDER_VERSION = "3"
TRAIN_DIR = DATA_DIR / "demo" / "commoncrawl" / "train"
_FILES = {"lid": "lid.txt", "lm": "lm_en.txt", "wiki": "wiki.txt"}
_OUTPUT = {"lid": "lid.bin", "lm": "", "wiki": "wiki.bin"}


def _train_text(name: str) -> Path:
    path = TRAIN_DIR / _FILES[name]
    if not path.exists():
        raise FileNotFoundError(f"bundled training text {path} is missing")
    return path


def _fingerprint(name: str) -> str:
    h = hashlib.sha256(f"{name}:{BUILDER_VERSION}".encode())
    h.update(_train_text(name).read_bytes())
    return h.hexdigest()[:16]


def demo_model(name: str) -> Path:
    """Path of demo model ``name`` (``lid`` | ``lm`` | ``wiki``), building it on first use."""
    if name not in _FILES:
        raise ValueError(f"unknown demo model {name!r}; known: {', '.join(sorted(_FILES))}")
    root = cache_dir() / "demo-models"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{name}-{_fingerprint(name)}"
    target = final / _OUTPUT[name] if _OUTPUT[name] else final
    if (final / "READY").exists():
        return target
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (final / "READY").exists():
                tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
                try:
                    _BUILDERS[name](_train_text(name), tmp)
                    (tmp / "READY").write_text("ok\n")
                    if final.exists():
                        shutil.rmtree(final)
                    os.replace(tmp, final)
                finally:
                    if tmp.exists():
                        shutil.rmtree(tmp, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def build_lid(train: Path, out: Path) -> None:
    train_fasttext_supervised(train, out / "lid.bin", epoch=15)


def build_wiki(train: Path, out: Path) -> None:
    train_fasttext_supervised(train, out / "wiki.bin", epoch=10, minn=0, maxn=0, dim=16)


def build_lm(train: Path, out: Path, lang: str = "en", vocab_size: int = 300, order: int = 3) -> None:
    """cc_net's ``lm_dir`` layout: ``{lang}.sp.model`` and a KenLM-loadable ``{lang}.arpa``."""
    import sentencepiece as spm

    from kllama.models.arpa import write_arpa
    from kllama.text.ccnet_normalize import normalize

    lines = [normalize(ln) for ln in train.read_text(encoding="utf-8").splitlines() if ln.strip()]
    norm = out / "normalized.txt"
    norm.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(input=str(norm), model_prefix=str(out / lang), vocab_size=vocab_size,
                                   model_type="unigram", character_coverage=1.0, hard_vocab_limit=False, num_threads=1,
                                   minloglevel=2, shuffle_input_sentence=False)
    (out / f"{lang}.model").rename(out / f"{lang}.sp.model")
    (out / f"{lang}.vocab").unlink()
    sp = spm.SentencePieceProcessor(model_file=str(out / f"{lang}.sp.model"))
    pieces = [" ".join(sp.encode(ln, out_type=str)) for ln in lines]
    write_arpa(pieces, out / f"{lang}.arpa", order=order)
    norm.unlink()


_BUILDERS = {"lid": build_lid, "lm": build_lm, "wiki": build_wiki}
