"""Regenerate the GitHub demo inputs (all content written for kllama, Apache-2.0; see ATTRIBUTION.md).

    python -m tools.make_demo.github

Writes ``github-code-demo.jsonl.gz`` (codeparrot/github-code schema) and ``the-stack-demo.parquet``
(bigcode/the-stack schema), byte-identical on every run.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

HERE = Path(__file__).resolve().parents[2] / "kllama" / "data" / "demo" / "github"

MIT_PY = '''#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright (c) 2024 The kllama demo authors
#
# Permission is hereby granted, free of charge, to any person obtaining a copy
# of this software, to deal in the Software without restriction.
"""Word counting helpers for the demo corpus."""

import collections


def count_words(text):
    """Return a Counter of the lower-cased words in text."""
    return collections.Counter(word.lower() for word in text.split())


def most_common(text, n=3):
    """The n most frequent words with their counts."""
    return count_words(text).most_common(n)
'''

APACHE_H = '''/*
 * Copyright 2024 The kllama demo authors
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define RING_CAPACITY 64

/* A fixed-size ring buffer of bytes. */
typedef struct {
    uint8_t data[RING_CAPACITY];
    size_t head;
    size_t tail;
} ring_buffer;

static inline size_t ring_size(const ring_buffer *r) {
    return (r->tail + RING_CAPACITY - r->head) % RING_CAPACITY;
}
'''

BSD_GO = '''// Copyright 2024 The kllama demo authors. All rights reserved.
// Use of this source code is governed by a BSD-style license
// that can be found in the LICENSE file.

// Package stack implements a small generic stack.
package stack

// Stack is a last-in first-out container.
type Stack[T any] struct {
	items []T
}

// Push adds an item on top of the stack.
func (s *Stack[T]) Push(item T) {
	s.items = append(s.items, item)
}

// Pop removes and returns the top item.
func (s *Stack[T]) Pop() (T, bool) {
	var zero T
	if len(s.items) == 0 {
		return zero, false
	}
	item := s.items[len(s.items)-1]
	s.items = s.items[:len(s.items)-1]
	return item, true
}
'''

GPL_PY = '''# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License version 3.
def greet(name):
    return "hello " + name
'''

RUST = '''//! Number theory helpers used by the demonstration corpus.
//!
//! The functions here are deliberately small and documented so that the
//! example shows how ordinary, readable source code passes every filter.

/// Returns the greatest common divisor of two numbers using the classic
/// Euclidean algorithm: replace the larger number by the remainder until
/// the remainder becomes zero.
pub fn greatest_common_divisor(mut first: u64, mut second: u64) -> u64 {
    while second != 0 {
        let remainder = first % second;
        first = second;
        second = remainder;
    }
    first
}
'''

SHELL = '''#!/bin/sh
# Build the demo and run its tests.
set -eu
make build
make test
'''

MINIFIED_JS = "var demo=function(){" + ";".join(f"var v{i}=function(x){{return x*{i}+1}}" for i in range(60)) + "};\n"
HEX_TABLE = "static const unsigned char table[] = {\n" + "".join(
    "    " + ", ".join(f"0x{(i * 16 + j) * 37 % 256:02x}" for j in range(12)) + ",\n" for i in range(40)
) + "};\n"
LICENSE_TEXT = "MIT License\n\nCopyright (c) 2024 The kllama demo authors\n\nPermission is hereby granted...\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUDemoDemoDemoDemoDemo\n-----END CERTIFICATE-----\n"


def rows_codeparrot() -> list[dict]:
    def row(code, repo, path, language, lic):
        return {"code": code, "repo_name": repo, "path": path, "language": language, "license": lic,
                "size": len(code.encode("utf-8"))}

    return [
        row(MIT_PY, "kllama-demo/wordcount", "wordcount/words.py", "Python", "mit"),
        row(APACHE_H, "kllama-demo/ring", "include/ring.h", "C", "apache-2.0"),
        row(BSD_GO, "kllama-demo/stack", "stack.go", "Go", "bsd-3-clause"),
        row(GPL_PY, "kllama-demo/greeter", "greet.py", "Python", "gpl-3.0"),
        row(RUST, "kllama-demo/gcd", "src/lib.rs", "Rust", "mit"),
        row(SHELL, "kllama-demo/gcd", "build.sh", "Shell", "mit"),
        row(MINIFIED_JS, "kllama-demo/minified", "dist/demo.min.js", "JavaScript", "apache-2.0"),
        row(HEX_TABLE, "kllama-demo/ring", "src/table.c", "C", "apache-2.0"),
        row(LICENSE_TEXT, "kllama-demo/wordcount", "LICENSE", "Text", "mit"),
        row(CERT, "kllama-demo/ring", "certs/demo.crt", "Text", "apache-2.0"),
        row('{"name": "demo"}\n', "kllama-demo/ring", "package.json", "JSON", "apache-2.0"),
        # the same file vendored into another repository: removed by exact_dedup
        row(MIT_PY, "kllama-demo/vendored", "third_party/words.py", "Python", "mit"),
        # binary content that slipped into a dump
        row("\x7fELF\x02\x01\x01\x00\x00\x00\x00", "kllama-demo/ring", "build/ring.o.h", "C", "apache-2.0"),
    ]


def write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in rows).encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0))


def write_the_stack(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        (RUST.replace("greatest_common_divisor", "gcd_of_pair"), "src/lcm.rs", "kllama-demo/numbers", ["MIT", "Apache-2.0"], 12),
        (BSD_GO.replace("Stack", "Queue"), "queue.go", "kllama-demo/queue", ["BSD-2-Clause"], 3),
        (GPL_PY.replace("greet", "wave"), "wave.py", "kllama-demo/waver", ["GPL-2.0-only"], None),
    ]
    table = pa.table({
        "hexsha": [f"{i:040x}" for i in range(1, len(rows) + 1)],
        "size": [len(r[0].encode()) for r in rows],
        "ext": [r[1].rsplit(".", 1)[-1] for r in rows],
        "lang": ["Rust", "Go", "Python"],
        "max_stars_repo_path": [r[1] for r in rows],
        "max_stars_repo_name": [r[2] for r in rows],
        "max_stars_repo_licenses": [r[3] for r in rows],
        "max_stars_count": pa.array([r[4] for r in rows], pa.int64()),
        "content": [r[0] for r in rows],
    })
    pq.write_table(table, path, compression="zstd")


if __name__ == "__main__":
    write_jsonl_gz(HERE / "github-code-demo.jsonl.gz", rows_codeparrot())
    write_the_stack(HERE / "the-stack-demo.parquet")
