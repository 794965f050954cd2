"""kllama: rebuild the LLaMA pre-training corpus from raw public dumps."""

__version__ = "0.1.0"
