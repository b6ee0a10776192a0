"""Fuzzing the camt.054 reader: random XML, elements and their text changed, the document
(namespace, DOCTYPE and entities, encoding, markup) changed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from xml.parsers import expat
from xml.sax.saxutils import escape

from hypothesis import strategies as st

from bench.fuzz.cases import Case

# ---------------------------------------------------------------------------------------------
# camt.054 strategies
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    """Where one element of a seed lies: `<tag ...>` at start, its content from inner to close."""

    tag: str
    start: int
    inner: int
    close: int
    end: int


def element_spans(data: bytes) -> list[Element]:
    """Every element's byte offsets, found with expat (the seeds have no self-closing tags)."""
    parser = expat.ParserCreate()
    open_tags: list[tuple[str, int]] = []
    spans: list[Element] = []

    def started(tag: str, _attrs: Any) -> None:
        open_tags.append((tag, parser.CurrentByteIndex))

    def ended(_tag: str) -> None:
        tag, start = open_tags.pop()
        close = parser.CurrentByteIndex
        inner = data.index(b">", start) + 1
        spans.append(Element(tag, start, inner, close, data.index(b">", close) + 1))

    parser.StartElementHandler, parser.EndElementHandler = started, ended
    parser.Parse(data, True)
    return spans


CamtSeed = tuple[str, bytes, list[Element]]
FOCUS = {"Amt", "TtlAmt", "CdtNoteAmt", "Dt", "DtTm", "NbOfTxs", "CdtDbtInd", "Cd", "Sts"}
FOCUS |= {"RvslInd", "Ref", "Ntry", "TxDtls", "NtryDtls", "BookgDt", "Btch", "AmtDtls", "Document"}
TAGS = sorted(FOCUS | {"X", "amt", "c:Amt", "Ustrd", "AcctSvcrRef", "ValDt", "Strd", "RmtInf"})
SPECIAL_TEXT = [
    "",
    " ",
    "NaN",
    "sNaN",
    "-sNaN",
    "Infinity",
    "-Infinity",
    "1E+999999",
    "1e999999999999",
    "1E-999999",
    "0.001",
    "-0",
    "1,00",
    "1 000.00",
    "0x10",
    "٣٠٠.٠٠",
    "2026-02-30",
    "2026-13-01",
    "99999-12-31",
    "2026-3-2",
    "2026-03-02T25:00:00",
    "BOOK",
    "PDNG",
    "DBIT",
    "CRDT",
    "true",
    "CREN",
    "RF18 5390 0754 7035",
    "RF18539007547034" * 3,
    "9" * 40,
]


def camt_text() -> st.SearchStrategy[str]:
    """Text to put where an amount, date, code or reference was."""
    return st.one_of(
        st.sampled_from(SPECIAL_TEXT),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.dates().map(date.isoformat),
        st.integers().map(str),
        st.text(max_size=30),
    )


@st.composite
def camt_random(draw: st.DrawFn) -> Case:
    """Random bytes, alone or behind a camt.054 root, or a soup of camt.054 tokens."""
    version = draw(st.sampled_from(("02", "04", "08", "09")))
    head = (
        '<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:'
        f'xsd:camt.054.001.{version}"><BkToCstmrDbtCdtNtfctn><Ntfctn>'
    ).encode()
    kind = draw(st.sampled_from(("bytes", "after root", "tokens")))
    if kind == "bytes":
        return Case(draw(st.binary(max_size=600)), "random bytes")
    if kind == "after root":
        return Case(head + draw(st.binary(max_size=600)), f"camt.054.001.{version} root + bytes")
    tokens = draw(st.lists(st.sampled_from(XML_TOKENS), max_size=60))
    return Case(head + "".join(tokens).encode(), f"camt.054.001.{version} root + tokens")


XML_TOKENS = [
    "<Ntry>",
    "</Ntry>",
    '<Amt Ccy="NOK">',
    "<Amt>",
    "</Amt>",
    "100.00",
    "5e2",
    "<CdtDbtInd>DBIT</CdtDbtInd>",
    "<Sts>BOOK</Sts>",
    "<Sts><Cd>PDNG</Cd></Sts>",
    "<BookgDt><Dt>2026-03-02</Dt></BookgDt>",
    "<BookgDt><DtTm>2026-02-31T10:00:00</DtTm></BookgDt>",
    "<NtryDtls>",
    "</NtryDtls>",
    "<TxDtls>",
    "</TxDtls>",
    "<Btch><NbOfTxs>2</NbOfTxs><TtlAmt>1.00</TtlAmt></Btch>",
    "<RmtInf><Strd><CdtrRefInf><Ref>RF00</Ref></CdtrRefInf></Strd></RmtInf>",
    "<RvslInd>true</RvslInd>",
    "&amp;",
    "&e;",
    "<!-- c -->",
    "<![CDATA[1.00]]>",
    "<?pi x?>",
    " ",
    "\n",
    "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>",
]


def pick_element(draw: st.DrawFn, spans: list[Element]) -> Element:
    """An element, half the time one the reader checks (amounts, dates, codes, entries)."""
    focus = [e for e in spans if e.tag in FOCUS] or spans
    return draw(st.one_of(st.sampled_from(spans), st.sampled_from(focus)))


def text_of(draw: st.DrawFn) -> bytes:
    """Replacement text, escaped most of the time (raw text tests the XML refusal)."""
    text = draw(camt_text())
    raw = draw(st.sampled_from((False, False, False, True)))
    return (text if raw else escape(text)).encode("utf-8", "surrogatepass")


@st.composite
def camt_elements_changed(draw: st.DrawFn, pool: list[CamtSeed]) -> Case:
    """A seed with one element removed, duplicated, renamed, emptied or given other text."""
    name, data, spans = draw(st.sampled_from(pool))
    el = pick_element(draw, spans)
    op = draw(st.sampled_from(("remove", "duplicate", "rename", "text", "text", "attribute")))
    where = f"{name}: <{el.tag}> at byte {el.start}"
    if op == "remove":
        return Case(data[: el.start] + data[el.end :], f"{where} removed")
    if op == "duplicate":
        copy = data[el.start : el.end]
        return Case(data[: el.end] + copy + data[el.end :], f"{where} duplicated")
    if op == "rename":
        new = draw(st.sampled_from(TAGS)).encode()
        size = len(el.tag)
        out = (
            data[: el.start + 1]
            + new
            + data[el.start + 1 + size : el.close + 2]
            + new
            + data[el.close + 2 + size :]
        )
        return Case(out, f"{where} renamed to {new.decode()}")
    if op == "attribute":
        value = escape(draw(camt_text()), {'"': "&quot;"}).encode("utf-8", "surrogatepass")
        attr = draw(st.sampled_from((b"Ccy", b"xmlns", b"x")))
        at = el.start + 1 + len(el.tag)
        out = data[:at] + b" " + attr + b'="' + value + b'"' + data[at:]
        return Case(out, f"{where} given {attr.decode()}={value!r}")
    text = text_of(draw)
    return Case(data[: el.inner] + text + data[el.close :], f"{where} text = {text!r}")


NAMESPACES = [f"urn:iso:std:iso:20022:tech:xsd:camt.054.001.{v:02d}" for v in range(11)]
NAMESPACES += [
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02",
    "urn:iso:std:iso:20022:tech:xsd:camt.054.001.2",
    "URN:ISO:STD:ISO:20022:TECH:XSD:CAMT.054.001.02",
    "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02 ",
    "",
    "camt.054",
]
DOCTYPES = [
    b'<!DOCTYPE Document [<!ENTITY e "100.00">]>',
    b'<!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY e "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
    b'<!DOCTYPE Document [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/camt.dtd">',
    b'<!DOCTYPE Document [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
    b"<!DOCTYPE Document>",
    b"",
]
ENCODINGS = ["UTF-8", "utf-16", "UTF-16LE", "latin-1", "ascii", "utf-32", "cp1252", "cp037"]
ENCODINGS += ["EBCDIC-CP-US", "bogus", "x-mac-roman", "", "utf-8 ", "UTF-7"]
MARKUP = [b"<!-- x -->", b"<?pi x?>", b"<![CDATA[100.00]]>", b"\xef\xbb\xbf", b"\x00", b"&e;"]
_DECLARATION = re.compile(rb"^<\?xml[^>]*\?>")
_XMLNS = re.compile(rb'xmlns="[^"]*"')


@st.composite
def camt_document_changed(draw: st.DrawFn, pool: list[CamtSeed]) -> Case:
    """A seed with its namespace, DOCTYPE, encoding or length changed, or markup inserted."""
    name, data, spans = draw(st.sampled_from(pool))
    op = draw(st.sampled_from(("namespace", "doctype", "encoding", "truncate", "markup")))
    if op == "namespace":
        return change_namespace(draw, name, data)
    if op == "doctype":
        decl = draw(st.sampled_from(DOCTYPES))
        el = pick_element(draw, spans)
        ref = draw(st.sampled_from((b"", b"&e;")))
        body = data[: el.inner] + ref + data[el.inner :]
        found = _DECLARATION.match(body)
        at = found.end() if found else 0
        return Case(body[:at] + decl + body[at:], f"{name}: {decl!r}, {ref!r} in <{el.tag}>")
    if op == "encoding":
        return change_encoding(draw, name, data)
    if op == "truncate":
        at = draw(st.integers(0, len(data)))
        return Case(data[:at], f"{name}: cut at byte {at}")
    el = pick_element(draw, spans)
    snippet = draw(st.sampled_from(MARKUP))
    at = draw(st.sampled_from((el.start, el.inner, el.close, el.end)))
    return Case(data[:at] + snippet + data[at:], f"{name}: {snippet!r} at byte {at}")


def change_namespace(draw: st.DrawFn, name: str, data: bytes) -> Case:
    """Another, a prefixed, a missing or a doubled default namespace."""
    kind = draw(st.sampled_from(("uri", "uri", "prefix", "remove", "double")))
    uri = draw(st.one_of(st.sampled_from(NAMESPACES), st.text(max_size=60)))
    attr = b'xmlns="' + escape(uri, {'"': "&quot;"}).encode("utf-8", "surrogatepass") + b'"'
    if kind == "uri":
        out = _XMLNS.sub(lambda _m: attr, data, count=1)
    elif kind == "prefix":
        out = data.replace(b'xmlns="', b'xmlns:c="', 1)
    elif kind == "remove":
        out = _XMLNS.sub(b"", data, count=1)
    else:
        out = _XMLNS.sub(lambda m: m.group(0) + b" " + attr, data, count=1)
    return Case(out, f"{name}: namespace {kind} {uri!r}")


def change_encoding(draw: st.DrawFn, name: str, data: bytes) -> Case:
    """Another or an unknown encoding in the declaration, the bytes re-encoded or not."""
    alphabet = st.characters(codec="ascii", categories=["L", "Nd", "Pd"])
    encoding = draw(
        st.one_of(st.sampled_from(ENCODINGS), st.text(alphabet, min_size=1, max_size=12))
    )
    decl = f'<?xml version="1.0" encoding="{encoding}"?>'.encode()
    found = _DECLARATION.match(data)
    out = decl + (data[found.end() :] if found else data)
    recoded = draw(st.booleans())
    if recoded:
        try:
            out = out.decode("utf-8").encode(encoding)
        except (LookupError, UnicodeError, ValueError):
            recoded = False
    return Case(out, f"{name}: encoding={encoding!r}{' (re-encoded)' if recoded else ''}")
