# kllama test fixture: a file whose repository is AGPL-licensed.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU Affero General Public License as published
# by the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU Affero General Public License for more details.

"""Collapse runs of blank lines in extracted text."""

import re

_BLANKS = re.compile(r"\n{3,}")


def collapse_blank_lines(text: str) -> str:
    """At most one empty line between paragraphs."""
    return _BLANKS.sub("\n\n", text).strip() + "\n"


def clean_lines(lines):
    """Strip trailing spaces and drop lines made only of punctuation."""
    out = []
    for line in lines:
        line = line.rstrip()
        if line and all(not c.isalnum() for c in line):
            continue
        out.append(line)
    return out
