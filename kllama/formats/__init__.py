"""Readers of file formats, with limits for untrusted input: safe XML, JSON lines (zstd/gzip/tar)."""
