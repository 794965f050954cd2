"""Safe streaming XML: entity declarations refused, external DOCTYPE lines tolerated, truncation reported."""

from __future__ import annotations

import io

import pytest

from kllama.formats.safexml import UnsafeXMLError, XmlStream, check_prolog, local_name, stream_file_events


def events_of(data: bytes, chunk: int = 7) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    names = [local_name(e.tag) for ev, e in stream_file_events(io.BytesIO(data), XmlStream(events=("end",)),
                                                               errors, chunk)]
    return names, errors


def test_bom_and_external_doctype_line():
    data = b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?>\n<!DOCTYPE posts SYSTEM 'posts.dtd'>\n<posts><row/><row/></posts>"
    assert events_of(data) == (["row", "row", "posts"], [])


def test_utf16_with_bom():
    data = "\ufeff<r><a>é</a></r>".encode("utf-16-le")
    assert events_of(data) == (["a", "r"], [])


@pytest.mark.parametrize("prolog", [
    b'<!DOCTYPE r [<!ENTITY a "x">]>',
    b'<!DOCTYPE r SYSTEM "r.dtd" [<!ENTITY % p SYSTEM "http://evil/">]>',
    b'<!ENTITY a "x">',
])
def test_entity_declarations_are_refused(prolog):
    with pytest.raises(UnsafeXMLError):
        check_prolog(b'<?xml version="1.0"?>\n' + prolog + b"<r>&a;</r>")
    with pytest.raises(UnsafeXMLError):
        events_of(b'<?xml version="1.0"?>\n' + prolog + b"<r>&a;</r>")


def test_truncated_and_malformed_inputs_are_reported_not_raised():
    names, errors = events_of(b"<r><a>1</a><a>2</a><a>3")
    assert names == ["a", "a"] and errors[0].startswith("truncated")
    names, errors = events_of(b"<r><a>1</a><b></a><a>3</a></r>")
    assert names == ["a"] and errors[0].startswith("xml_error")


def test_element_whose_start_tag_was_cut_is_never_reported():
    # libxml2 2.13+ (lxml 6) recovers <a x="2" y="3" ...> from a cut start tag on close(); it is held back
    for data in (b'<r><a x="1"/>\n<a x="2" y="3" ', b'<r><a x="1"/>\n<a x="2" y', b'<r><a x="1"/>\n<a x="2">'):
        stream = XmlStream(events=("end",))
        errors: list[str] = []
        got = [dict(e.attrib) for _, e in stream_file_events(io.BytesIO(data), stream, errors, 5)]
        assert got == [{"x": "1"}], data
        assert errors[0].startswith("truncated") and stream.unfinished[0] == "r"


def test_undefined_entity_is_an_error_not_an_expansion():
    names, errors = events_of(b"<r><a>1</a><a>&undefined;</a></r>")
    assert names == ["a"] and errors
