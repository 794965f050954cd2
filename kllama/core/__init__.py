"""The core layer: documents, the ledger, step and reader base classes, the registry, file helpers.

It imports nothing else of kllama; every other package builds on it.
"""
