"""Dask plumbing: clusters, the partition runner, the ledger and resume markers.

Steps and sources never import Dask; only this package does.
"""
