"""Code filters: licences, extensions, binary files, licence headers (on real files) and quality rules."""

from __future__ import annotations

import re

import pytest

from kllama.config import DATA_DIR
from kllama.core.document import Document
from kllama.core.ledger import Ledger
from kllama.filters.code import (
    REDPAJAMA_EXTENSIONS,
    BinaryFilter,
    CodeHeader,
    CodeQuality,
    ExtensionFilter,
    LicenseFilter,
    code_stats,
    proxy_token_count,
    strip_license_header,
)
from tests.conftest import samples_dir

TOKENIZER = str(DATA_DIR / "tokenizer" / "20B_tokenizer.json")


def doc(text: str = "x = 1\n", path: str = "a.py", **meta) -> Document:
    return Document(id="t", text=text, source="github", meta={"path": path, **meta})


def read_sample(*parts: str) -> str:
    return (samples_dir("code", "files") / "/".join(parts)).read_text(encoding="utf-8")


# ---- licences and extensions

@pytest.mark.parametrize("lic,ok", [
    ("mit", True), ("MIT", True), ("apache-2.0", True), ("Apache License 2.0", True), ("bsd-3-clause", True),
    ("BSD-2-Clause", True), ("0BSD", True), ("gpl-3.0", False), ("agpl-3.0", False), ("lgpl-2.1", False),
    ("MIT OR GPL-3.0", True), ("isc", False),
])
def test_license_filter_spdx_like_strings(lic, ok):
    verdict = LicenseFilter().keep(doc(license=lic))
    assert verdict is True if ok else verdict == "license_not_allowed"


def test_license_lists_any_or_all_and_missing():
    d = doc(licenses=["GPL-2.0-only", "MIT"])
    assert LicenseFilter().keep(d) is True
    assert LicenseFilter(mode="all").keep(d) == "license_not_allowed"
    assert LicenseFilter().keep(doc()) == "license_missing"
    assert LicenseFilter(allowed=["gpl*"]).keep(doc(license="gpl-3.0")) is True


def test_extension_allow_list_is_redpajamas_66():
    assert len(REDPAJAMA_EXTENSIONS) == 66 == len(set(REDPAJAMA_EXTENSIONS))
    f = ExtensionFilter()
    assert f.keep(doc(path="src/main.c")) is True
    assert f.keep(doc(path="docker/Dockerfile")) is True
    assert f.keep(doc(path="Makefile")) is True
    assert f.keep(doc(path="x/notes.C")) is True
    assert f.keep(doc(path="data.json")) == "extension_not_allowed"
    assert f.keep(doc(path="certs/server.crt")) == "certificate_file"
    assert f.keep(doc(path="LICENSE")) == "license_file"
    assert f.keep(doc(path="sub/LICENSE.md")) == "license_file"
    assert ExtensionFilter(extensions=[".json"]).keep(doc(path="data.json")) is True
    assert f.keep(doc(path="")) == "path_missing"


def test_binary_content_is_a_named_drop():
    f = BinaryFilter()
    assert f.keep(doc("\x7fELF\x02\x01\x01\x00")) == "binary_file"
    assert f.keep(doc("".join(chr(c) for c in range(1, 32)) * 10)) == "binary_file"
    assert f.keep(doc("int main(void) {\n\treturn 0;\n}\n")) is True


# ---- licence headers on the real sample files

def test_apache_block_header_removed_from_c_header_code_kept():
    text = read_sample("chatnoir-eu__chatnoir-resiliparse", "resiliparse-py", "resiliparse", "parse", "encoding.h")
    out, n = strip_license_header(text, "parse/encoding.h")
    assert n > 0
    assert "Apache License" in text and "Apache License" not in out
    assert "Copyright" not in out[:500]
    # every non-comment line of the original survives, in order
    code_lines = [ln for ln in text.splitlines() if ln.startswith(("#", "typedef", "static", "}"))]
    assert [ln for ln in out.splitlines() if ln in code_lines] == code_lines
    assert out.lstrip().startswith("#")


def test_line_comment_header_removed_from_rust():
    text = read_sample("chatnoir-eu__chatnoir-resiliparse", "fastwarc", "src", "lib.rs")
    out, n = strip_license_header(text, "fastwarc/src/lib.rs")
    assert n > 0 and "Licensed under the Apache License" not in out
    assert out.splitlines()[0].strip() and not out.startswith("// Copyright")
    assert out == text[len(text) - len(out):]  # only a prefix went


def test_hash_header_removed_from_python_but_docstring_and_code_kept():
    text = read_sample("facebookresearch__cc_net", "cc_net", "flat_hash_set.py")
    out, n = strip_license_header(text, "cc_net/flat_hash_set.py")
    assert n > 0 and "Copyright" not in out.split("import", 1)[0]
    assert "import" in out and out.count("def ") == text.count("def ")


def test_preprocessor_lines_never_removed_from_header_without_licence():
    text = read_sample("piskvorky__gensim", "gensim", "models", "fast_line_sentence.h")
    assert text.lstrip().startswith(("#pragma", "#include", "/*", "//")) or "#include" in text
    out, n = strip_license_header(text, "gensim/models/fast_line_sentence.h")
    assert out == text and n == 0
    for line in text.splitlines():
        if line.startswith(("#include", "#pragma", "#define")):
            assert line in out


def test_shebang_kept_in_shell_script():
    text = read_sample("piskvorky__gensim", "gensim", "examples", "dmlcz", "runall.sh")
    out, _ = strip_license_header(text, "examples/dmlcz/runall.sh")
    assert text.startswith("#!") and out.startswith(text.splitlines()[0])


def test_shebang_encoding_and_docstring_kept_while_header_goes():
    text = ('#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n# Copyright 2020 X\n# Licensed under MIT\n\n'
            '"""Module docstring: Copyright notice inside a docstring stays."""\nimport os\n')
    out, n = strip_license_header(text, "m.py")
    assert out == ('#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n'
                   '"""Module docstring: Copyright notice inside a docstring stays."""\nimport os\n')
    assert n == 3


def test_comment_that_is_not_a_licence_stays_and_code_after_block_on_same_line_stays():
    text = "// Utility helpers for parsing.\nint x;\n"
    assert strip_license_header(text, "a.c") == (text, 0)
    text2 = "/* Copyright 2020 */ int x;\nint y;\n"
    assert strip_license_header(text2, "a.c") == (text2, 0)
    # '#' is not a comment in C, so a C file's '#include' is never a header candidate
    text3 = "#include <stdio.h>\n// Copyright 2020 MIT licence\nint x;\n"
    assert strip_license_header(text3, "a.c") == (text3, 0)
    # unknown languages are left alone
    assert strip_license_header("# Copyright\nx\n", "notes.unknownext") == ("# Copyright\nx\n", 0)


def test_code_header_mapper_records_lines_and_drops_header_only_files():
    led = Ledger()
    docs = CodeHeader().process([doc("# Copyright 2020 MIT licence\n", "only_header.py"),
                                 doc("# Copyright (c) 2020\n\nx = 1\n", "a.py")], led)
    assert led.dropped == {"empty_after_header": 1}
    assert docs[0].text == "x = 1\n" and docs[0].meta["header_lines_removed"] == 2


# ---- quality rules

def test_quality_rules_each_have_their_named_drop():
    q = CodeQuality()
    assert q.keep(doc("")) == "empty_file"
    assert q.keep(doc("a" * 1001 + "\nb\n")) == "max_line_length"
    assert q.keep(doc(("word " * 30 + "\n") * 5)) == "mean_line_length"
    assert q.keep(doc("{ } ; ( ) [ ] = + - * / \n" * 10)) == "alnum_share"
    assert q.keep(doc("0x1f, 0x2e, 0x3d, 0x4c, 0x5b,\n" * 20)) == "alpha_per_token"
    assert q.keep(doc("def count_words(text):\n    return len(text.split())\n")) is True


def test_minified_line_uses_configured_limit_without_huge_allocation():
    # stands in for a 500 MB minified line: the limit is what matters, here 10 kB against a 200 kB line
    line = "var a=function(b){return b+1};" * 7000
    q = CodeQuality(max_line_length=10_000)
    assert q.keep(doc(line + "\n", "x.js")) == "max_line_length"


def test_real_minified_js_sample_is_dropped():
    text = read_sample("piskvorky__gensim", "docs", "src", "_static", "js", "scripts.js")
    assert max(map(len, text.splitlines())) > 100_000
    assert CodeQuality().keep(doc(text, "scripts.js")) == "max_line_length"


def test_stats_match_redpajama_definitions():
    text = "ab1\n\n!!!\nxyz_\n"
    s = code_stats(text)
    assert s["max_line_length"] == 4
    assert s["avg_line_length"] == len(text) / 4
    assert s["alnum_prop"] == sum(c.isalnum() for c in text) / len(text)
    alpha = re.compile(r"[^\W\d_]+")
    sample = "Grüße 123 naïve_x ÀB\t"
    assert sum(map(len, alpha.findall(sample))) == sum(c.isalpha() for c in sample)


def test_20b_tokenizer_and_proxy_agree_on_the_sample_decisions():
    files = [p for p in samples_dir("code", "files").rglob("*") if p.is_file()]
    real = CodeQuality(tokens="20b", tokenizer_path=TOKENIZER)
    proxy = CodeQuality(tokens="proxy")
    agree = 0
    for p in files:
        text = p.read_text(encoding="utf-8", errors="replace")
        r, x = real.alpha_per_token(text), proxy.alpha_per_token(text)
        agree += (r < 1.5) == (x < 1.5)
        assert 0.6 < proxy_token_count(text) / len(real_tokens(text)) < 1.5
    assert agree == len(files)


def real_tokens(text: str) -> list[int]:
    from kllama.filters.code import _load_tokenizer

    return _load_tokenizer(TOKENIZER).encode(text, add_special_tokens=False).ids


def test_quality_requires_tokenizer_for_20b():
    with pytest.raises(ValueError):
        CodeQuality(tokens="20b")
    assert CodeQuality(tokenizer_path=TOKENIZER).tokens == "20b"
    assert CodeQuality().tokens == "proxy"
