"""No page shows a code name, a command-line flag or an untranslated message in bokmål: every
page of the book is read as a person sees it (the text, not the markup), after the day's
actions have left flash messages and audit lines behind."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.integration.web.conftest import book_pages, sign_in

# Code names: snake_case, dotted ids (claim.dispute, dunning.reminder_1.fee), flags, "web:" actors.
CODE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b|\b[a-z]+\.[a-z_]+[a-z0-9_.]*\b|(?<!\w)--[a-z]|\bweb:")
EMAIL = re.compile(r"\S+@\S+")  # people's e-mail addresses are data
ABBREVIATIONS = {"f.eks", "org.nr", "kl."}
# English that leaked through: words the bokmål pages never use.
ENGLISH = re.compile(
    r"\b(the|invoice|payment|matched|queued|saved|disputed|undisputed|sent to|pending|"
    r"principal|fee|interest|deadline|letter|agency|allocation|customer|nothing)\b",
    re.IGNORECASE,
)


class _Text(HTMLParser):
    """The text a person reads; rule tags (the law's own references) and what people and banks
    typed (messages, names) are left out. The rules' reasons are read: each comes with its
    msgid and shows in bokmål."""

    SKIP = frozenset({"script", "style", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag in self.SKIP or {"rule", "typed"} & set(cls.split()):
            self.skipping.append(tag)
        elif self.skipping and tag == self.skipping[-1]:
            self.skipping.append(tag)

    def handle_endtag(self, tag):
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def test_no_page_shows_a_code_name_or_english(client, book) -> None:
    token = sign_in(client, "ola@regnskap.no")
    cid = book.company_id
    # the day's work: a dispute, a hold, a match, a saved setting, a hand-off
    client.post(
        f"/c/{cid}/claims/503/dispute",
        data={"csrf": token, "disputed": "true", "reason": "varene kom aldri"},
    )
    client.post(
        f"/c/{cid}/claims/502/hold",
        data={"csrf": token, "action": "stop", "reason": "avtalt nedbetaling"},
    )
    client.post(
        f"/c/{cid}/payments/{book.payment_id}/match", data={"csrf": token, "invoice": "502"}
    )
    client.post(
        f"/c/{cid}/handoff/{book.customer_id}/confirm", data={"csrf": token, "not_disputed": "true"}
    )
    found = {}
    for url in book_pages(book):
        r = client.get(url, follow_redirects=True)
        assert r.status_code == 200, url
        text = EMAIL.sub("", visible(r.text))
        bad = sorted(
            {m.group(0) for m in CODE.finditer(text)}
            | {m.group(0).lower() for m in ENGLISH.finditer(text)}
        )
        bad = [b for b in bad if b not in ABBREVIATIONS]
        if bad:
            found[url] = bad
    assert found == {}, "\n".join(f"{u}: {b}" for u, b in found.items())


def test_flash_messages_are_in_bokmal(client, book) -> None:
    token = sign_in(client, "kari@regnskap.no")
    cid = book.company_id
    r = client.post(
        f"/c/{cid}/payments/{book.payment_id}/match", data={"csrf": token, "invoice": "502"}
    )
    page = client.get(r.headers["location"]).text
    assert "Innbetalingen på 1\u00a0250,50\u00a0kr er koblet til faktura 502" in page
    r = client.post(
        f"/c/{cid}/handoff/{book.customer_id}/confirm", data={"csrf": token, "not_disputed": "true"}
    )
    page = client.get(r.headers["location"]).text
    assert "venter på at den sendes til inkassobyrået" in page and "sent to the agency" not in page
