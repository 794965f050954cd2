"""Galactica's ``<work>`` and ``</work>`` as two new token ids (``kllama tokenize --work-tokens added``).

By default (``--work-tokens text``) the tags are ordinary text for the unchanged 20B tokenizer (``<``, ``work``,
``>``: 3 tokens, ``</``, ``work``, ``>``: 3 tokens), so RWKV checkpoints load as they are. With ``added``, a copy of
the tokenizer file gains the two tags as *added tokens* with the next free ids after the whole vocabulary
(added tokens included: 50277 and 50278 for ``20B_tokenizer.json``), ``normalized: false`` and
``special: false``:

* HF ``tokenizers`` cuts an added token out of the raw text before normalization and pre-tokenization, so the
  text around a tag -- and all text without tags -- is encoded exactly as before (the same ids), and the digits
  inside ``<work>`` are split one by one like everywhere else;
* not special, so ``decode`` gives the tags back (special tokens are skipped when decoding) and kllama's
  ``literal_special`` rule (special-token strings inside documents are text) does not turn them back into text;
* the fast encoder cuts such tokens out the same way, so it still encodes (identity self-check included).

The extended file is written beside the binidx (``PREFIX.tokenizer.json``); a checkpoint needs two more rows in
its embedding and head matrices (:func:`embedding_note`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kllama.core.files import atomic_write_text

#: the tags, in id order
WORK_TOKENS: tuple[str, ...] = ("<work>", "</work>")
#: ``--work-tokens`` choices
MODES = ("text", "added")


@dataclass
class ExtendedTokenizer:
    """What :func:`write_work_tokenizer` made: the file, the size before, the new ids."""

    path: Path
    base_size: int
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Vocabulary size with the added tags (rows an embedding needs)."""
        return max([self.base_size - 1, *self.ids.values()]) + 1


def vocab_size(spec: dict[str, Any]) -> int:
    """One more than the largest id of a ``tokenizer.json`` (model vocabulary and added tokens)."""
    ids = list((spec.get("model") or {}).get("vocab", {}).values())
    ids += [t["id"] for t in spec.get("added_tokens", [])]
    return max(ids) + 1 if ids else 0


def add_work_tokens(spec: dict[str, Any], tokens: tuple[str, ...] = WORK_TOKENS) -> tuple[dict[str, Any], dict[str, int]]:
    """A copy of ``spec`` (a parsed ``tokenizer.json``) with ``tokens`` as added, non-normalized, non-special
    tokens after every existing id; returns (the copy, token -> id). A tag already added keeps its id; a tag
    that is a vocabulary entry is refused (its id would be ambiguous)."""
    out = copy.deepcopy(spec)
    vocab = (out.get("model") or {}).get("vocab", {})
    added = out.setdefault("added_tokens", [])
    ids: dict[str, int] = {}
    next_id = vocab_size(out)
    for tok in tokens:
        if tok in vocab:
            raise ValueError(f"{tok!r} is already a vocabulary token (id {vocab[tok]})")
        old = next((t for t in added if t["content"] == tok), None)
        if old is not None:
            if old.get("special") or old.get("normalized"):
                raise ValueError(f"{tok!r} is already an added token with other settings")
            ids[tok] = old["id"]
            continue
        added.append({"id": next_id, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": False})
        ids[tok] = next_id
        next_id += 1
    return out, ids


def tokenizer_path_for(prefix: str | Path) -> Path:
    """Where the extended tokenizer of the binidx ``PREFIX`` goes: ``PREFIX.tokenizer.json``."""
    return Path(f"{prefix}.tokenizer.json")


def write_work_tokenizer(base: str | Path | None, prefix: str | Path) -> ExtendedTokenizer:
    """Write ``base`` (default: the bundled 20B tokenizer) with the ``<work>`` tags added beside the binidx
    ``prefix``; returns the file, the old size and the new ids."""
    from kllama.tokenize.tokenizer import DEFAULT_TOKENIZER

    base = Path(base) if base is not None else DEFAULT_TOKENIZER
    spec = json.loads(base.read_text(encoding="utf-8"))
    extended, ids = add_work_tokens(spec)
    path = tokenizer_path_for(prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(extended, ensure_ascii=False, indent=2) + "\n")
    return ExtendedTokenizer(path=path, base_size=vocab_size(spec), ids=ids)


def embedding_note(ext: ExtendedTokenizer) -> str:
    """The lines ``kllama tokenize`` prints: the new ids and the embedding rows a checkpoint must gain."""
    new = ", ".join(f"{tok} = {i}" for tok, i in ext.ids.items())
    gain = ext.size - ext.base_size
    return (f"work tokens: {new} (tokenizer {ext.path})\n"
            f"a checkpoint made with the base tokenizer ({ext.base_size} rows in emb.weight and head.weight) must "
            f"gain {gain} rows ({ext.base_size} -> {ext.size}; train with --vocab_size {ext.size} or more), "
            f"e.g. initialised to the mean of the existing rows")
