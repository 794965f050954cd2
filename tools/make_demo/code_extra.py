"""Regenerate the `code_extra` demo input (G2 A.4; all content written for kllama, Apache-2.0).

    python -m tools.make_demo.code_extra

Writes ``kllama/data/demo/code_extra/the-stack-extra.parquet`` in the bigcode/the-stack schema, byte-identical on
every run: files under licences and in languages that LLaMA's GitHub rules leave out (ISC, Unlicense, 0BSD, Zlib;
Kotlin, Swift, Julia, Zig, Dart), a copy of a file that the ``github`` demo keeps (dropped by ``dedup_against`` as
exact), a near copy of another (dropped as near), a near-duplicate pair inside ``code_extra`` (one dropped by
``minhash_lsh``), a GPL file and a data file.
"""

from __future__ import annotations

from pathlib import Path

from tools.make_demo.github import MIT_PY, RUST

HERE = Path(__file__).resolve().parents[2] / "kllama" / "data" / "demo" / "code_extra"

KOTLIN = '''// Copyright (c) 2024 The kllama demo authors
// SPDX-License-Identifier: Unlicense
package demo.text

/** Splits a sentence into words and counts how often each word appears. */
fun wordFrequencies(sentence: String): Map<String, Int> {
    val counts = mutableMapOf<String, Int>()
    for (word in sentence.lowercase().split(Regex("\\\\W+"))) {
        if (word.isNotEmpty()) {
            counts[word] = (counts[word] ?: 0) + 1
        }
    }
    return counts
}

/** The most frequent words first, ties broken alphabetically. */
fun topWords(sentence: String, limit: Int = 3): List<Pair<String, Int>> =
    wordFrequencies(sentence).toList().sortedWith(compareBy({ -it.second }, { it.first })).take(limit)
'''

SWIFT = '''// Copyright (c) 2024 The kllama demo authors
// Licensed under the ISC licence.
import Foundation

/// A temperature reading in degrees Celsius with the time it was taken.
struct Reading {
    let celsius: Double
    let takenAt: Date

    /// The same reading in degrees Fahrenheit.
    var fahrenheit: Double { celsius * 9.0 / 5.0 + 32.0 }
}

/// The mean of a list of readings, or nil when the list is empty.
func meanCelsius(_ readings: [Reading]) -> Double? {
    guard !readings.isEmpty else { return nil }
    return readings.map(\\.celsius).reduce(0, +) / Double(readings.count)
}
'''

JULIA = '''# Copyright (c) 2024 The kllama demo authors. MIT licence.
"""
    trapezoid(f, a, b, n)

Approximate the integral of the function `f` from `a` to `b` with the trapezoid rule on `n` equal
intervals: the sum of the function values at the inner points plus half of the values at both ends,
multiplied by the width of one interval. The error shrinks with the square of the interval width.
"""
function trapezoid(f, a, b, n)
    h = (b - a) / n
    total = (f(a) + f(b)) / 2
    for k in 1:n-1
        total += f(a + k * h)
    end
    return total * h
end
'''

ZIG = '''// Copyright (c) 2024 The kllama demo authors. 0BSD.
const std = @import("std");

/// Returns true when `n` is a prime number. Even numbers other than two are rejected at once;
/// otherwise the function tries every odd divisor up to the square root of the number, which is
/// enough because a composite number always has a divisor no larger than its square root.
pub fn isPrime(n: u64) bool {
    if (n < 2) return false;
    if (n % 2 == 0) return n == 2;
    var d: u64 = 3;
    while (d * d <= n) : (d += 2) {
        if (n % d == 0) return false;
    }
    return true;
}
'''

DART = '''// Copyright (c) 2024 The kllama demo authors. Zlib licence.

/// A shopping list that keeps items in the order they were added.
class ShoppingList {
  final List<String> _items = [];

  /// Adds [item] unless it is already on the list.
  void add(String item) {
    if (!_items.contains(item)) {
      _items.add(item);
    }
  }

  /// The items, one per line, numbered from one.
  String render() => [for (var i = 0; i < _items.length; i++) '${i + 1}. ${_items[i]}'].join('\\n');
}
'''

GPL_KOTLIN = '''// This program is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License version 3.
fun greet(name: String) = "hello $name"
'''


def rows() -> list[tuple[str, str, str, list[str], str]]:
    """(content, path, repository, licences, language)."""
    return [
        (KOTLIN, "src/main/kotlin/Words.kt", "kllama-demo/kwords", ["Unlicense"], "Kotlin"),
        # the same file in a fork with two more lines: a near duplicate inside code_extra
        (KOTLIN + "\n/** How many different words the sentence has. */\nfun distinctWords(s: String) = "
                  "wordFrequencies(s).size\n", "src/Words.kt", "kllama-demo/kwords-fork", ["Unlicense"], "Kotlin"),
        (SWIFT, "Sources/Readings/Reading.swift", "kllama-demo/readings", ["ISC"], "Swift"),
        (JULIA, "src/trapezoid.jl", "kllama-demo/quadrature", ["MIT"], "Julia"),
        (ZIG, "src/prime.zig", "kllama-demo/primes", ["0BSD"], "Zig"),
        (DART, "lib/shopping_list.dart", "kllama-demo/shopping", ["Zlib"], "Dart"),
        # github (core) already holds these two: dropped by dedup_against (exact, then near)
        (MIT_PY, "words.py", "kllama-demo/wordcount-mirror", ["ISC"], "Python"),
        (RUST + "\n#[cfg(test)]\nmod tests {}\n", "src/gcd.rs", "kllama-demo/gcd-mirror", ["Apache-2.0"], "Rust"),
        (GPL_KOTLIN, "Greet.kt", "kllama-demo/kgreeter", ["GPL-3.0-only"], "Kotlin"),
        ('{"name": "demo", "version": "1.0.0"}\n', "package.json", "kllama-demo/shopping", ["Zlib"], "JSON"),
    ]


def write(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rs = rows()
    table = pa.table({
        "hexsha": [f"{0xe0000 + i:040x}" for i in range(len(rs))],
        "size": [len(r[0].encode()) for r in rs],
        "ext": [r[1].rsplit(".", 1)[-1] for r in rs],
        "lang": [r[4] for r in rs],
        "max_stars_repo_path": [r[1] for r in rs],
        "max_stars_repo_name": [r[2] for r in rs],
        "max_stars_repo_licenses": [r[3] for r in rs],
        "max_stars_count": pa.array([i % 5 for i in range(len(rs))], pa.int64()),
        "content": [r[0] for r in rs],
    })
    pq.write_table(table, path, compression="zstd")


if __name__ == "__main__":
    HERE.mkdir(parents=True, exist_ok=True)
    write(HERE / "the-stack-extra.parquet")
