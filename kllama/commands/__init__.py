"""Sub-commands of ``kllama``: one module per command, each with ``register(subparsers)``."""
