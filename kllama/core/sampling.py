"""How many times a document enters a weighted variant: one rule for every consumer of the store's epochs."""

from __future__ import annotations

import hashlib
import math

#: epochs for a source that the variant's weights do not name
DEFAULT_EPOCHS = 1.0


def copies_for(doc_id: str, epochs: float, seed: int) -> int:
    """``floor(epochs)`` copies, plus one more when a hash of (seed, id) falls under the fraction: 2.45 epochs are
    two full passes and a deterministic 45% sample. Same rule and hash as ``kllama tokenize``."""
    if epochs <= 0:
        return 0
    whole = math.floor(epochs)
    frac = epochs - whole
    if frac <= 1e-12:
        return whole
    h = hashlib.blake2b(f"{seed}\x00{doc_id}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return whole + (1 if int.from_bytes(h, "little") < frac * 2.0**64 else 0)
