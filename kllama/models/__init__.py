"""Model files: where they live, the public ones ``kllama models fetch`` downloads, and demo models.

A recipe names a model as

* a path (absolute, ``~``, or relative to the recipe);
* ``models:NAME`` -- a file in the models folder (``$KLLAMA_MODELS``, else ``$KLLAMA_CACHE/models``, else
  ``~/.cache/kllama/models``), where ``kllama models fetch`` puts ``lid.176.bin`` and cc_net's
  ``{lang}.arpa.bin`` / ``{lang}.sp.model``;
* ``demo:lid`` | ``demo:lm`` (a folder with ``en.sp.model`` + ``en.arpa``) | ``demo:wiki`` -- small real
  models trained on first use from text bundled in the package, cached under ``$KLLAMA_CACHE/demo-models``.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """kllama's cache folder: ``$KLLAMA_CACHE`` or ``~/.cache/kllama``."""
    return Path(os.environ.get("KLLAMA_CACHE") or Path.home() / ".cache" / "kllama").expanduser()


def models_dir() -> Path:
    """Where fetched models live: ``$KLLAMA_MODELS`` or ``cache_dir()/models``."""
    env = os.environ.get("KLLAMA_MODELS")
    return Path(env).expanduser() if env else cache_dir() / "models"


def resolve_model(spec: str | os.PathLike) -> Path:
    """The local path of a model named as a recipe names it (see the module docstring).

    Recipe loading may have turned ``demo:lid`` into ``<recipe dir>/demo:lid``; the prefix is recognised in
    the last path component too.
    """
    s = str(spec)
    base = os.path.basename(s) if ("/demo:" in s or "/models:" in s) else s
    if base.startswith("demo:"):
        from kllama.models.demo import demo_model

        return demo_model(base[len("demo:"):])
    if base.startswith("models:"):
        path = models_dir() / base[len("models:"):]
        if not path.exists():
            raise FileNotFoundError(f"model {path} is missing: run `kllama models fetch` first")
        return path
    path = Path(s).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"model file {path} not found")
    return path
