"""The fault runs' report: sections A (the Tripletex sync) and B (the Kravia sends) as
Markdown, from the figures `bench/faults/tripletex.py` and `bench/faults/kravia.py` gathered."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from bench.faults import kravia, tripletex
from bench.faults.common import (
    KINDS,
    NAP_CAP_S,
    READ_TIMEOUT_S,
    SLOW_S,
    not_exercised,
    retried,
)
from bench.faults.kravia import B_KINDS, TODAY_B
from bench.faults.tripletex import (
    Cut,
    SyncRun,
    a_problems,
    differences,
    extra_explained,
)


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _faults_text(counts: Counter[str], renewals: int) -> str:
    kinds = ", ".join(f"{k} {counts[k]}" for k in KINDS)
    return f"{kinds}, session expiry (401) {renewals}"


def runs_table(clean: SyncRun, faulty: SyncRun) -> str:
    """The clean sync beside the one under random faults."""
    extra, explained = extra_explained(clean, faulty)
    return md_table(
        ["", "clean", "under faults"],
        [
            ["requests (sandbox saw)", clean.requests_sandbox, faulty.requests_sandbox],
            ["requests (client's own counter)", clean.requests_client, faulty.requests_client],
            [
                "retries (re-sent after 429/503/timeout/drop)",
                retried(clean.wire),
                retried(faulty.wire),
            ],
            ["session renewals after 401", clean.wire["401"], faulty.wire["401"]],
            [
                "extra requests = retries + 2 x renewals",
                "-",
                f"{extra} = {retried(faulty.wire)} + 2 x {faulty.wire['401']}: "
                + ("yes" if extra == explained else "NO"),
            ],
            [
                "faults injected",
                _faults_text(clean.injected, clean.wire["401"]),
                _faults_text(faulty.injected, faulty.wire["401"]),
            ],
            ["client saw", dict(sorted(clean.wire.items())), dict(sorted(faulty.wire.items()))],
            [
                f"retry waits asked (s; each slept at most {NAP_CAP_S})",
                f"{clean.naps.asked_s:.2f} in {clean.naps.count}",
                f"{faulty.naps.asked_s:.2f} in {faulty.naps.count}",
            ],
            ["sync ended with", clean.error or "done", faulty.error or "done"],
            ["bookmarks claim", clean.bookmarks.claims, faulty.bookmarks.claims],
            [
                "claimed but not stored",
                len(clean.bookmarks.unstored),
                len(faulty.bookmarks.unstored),
            ],
            ["seconds", f"{clean.seconds:.1f}", f"{faulty.seconds:.1f}"],
        ],
    )


def diff_table(clean: SyncRun, faulty: SyncRun) -> str:
    """Rows that differ from the clean sync, per table."""
    diff = differences(clean.snapshot, faulty.snapshot)
    return md_table(
        ["differences from clean", *diff, "total"],
        [["rows", *diff.values(), sum(diff.values())]],
    )


def cuts_table(cuts: list[Cut]) -> str:
    """The killed syncs: where, what the bookmarks claimed, and the resumption."""
    return md_table(
        [
            "mode",
            "503 burst from request",
            "sync stopped with",
            "invoices stored at stop",
            "bookmarks claim",
            "claimed but not stored",
            "resume requests",
            "after resume: not stored",
            "differences from clean",
        ],
        [
            [
                c.mode,
                c.at,
                (c.error or "NOT INTERRUPTED")[:60],
                f"{c.stored:,}",
                c.before.claims,
                len(c.before.unstored),
                f"{c.resume_requests} ({c.resume_304} x 304)",
                len(c.after.unstored),
                sum(c.differences.values()),
            ]
            for c in cuts
        ],
    )


def bullets(title: str, lines: list[str], limit: int = 30) -> str:
    """A Markdown list under a title, or nothing when there is nothing to list."""
    return f"{title}\n\n" + "\n".join(f"- {x}" for x in lines[:limit]) if lines else ""


def report_a(runs: tripletex.Results) -> tuple[str, bool]:
    """Section A as Markdown, and whether everything held."""
    clean, faulty, cuts, seconds = runs.clean, runs.faulty, runs.cuts, runs.seconds
    s, ledger = runs.lab.settings, runs.lab.sandbox.ledger
    ok = runs.passed
    burst = cuts[0].burst if cuts else 0
    head = (
        f"{len(ledger.invoices):,} ledger invoices ({clean.stored_invoices:,} in the history "
        f"window), {len(ledger.customers):,} customers, page size {s.page_size}. Random faults on "
        f"{s.tripletex_rate:.0%} of requests (seed {s.seed}) and every {s.slow_every}th answer slow "
        f"(slow = {SLOW_S} s against a {READ_TIMEOUT_S} s read timeout), session expiry every "
        f"{s.expire_every} requests. "
        "Retries are counted at the wire (`Wire`, the transport given to `Clients`): attempts "
        "that met a 429, 503, timeout or dropped connection; the product client's own counter "
        "(`TripletexClient.requests`) agrees with what the sandbox saw."
    )
    cut_intro = (
        f"Syncs killed by a burst of {burst} answers 503, longer than the client's {burst - 2} "
        "attempts (a fault that outlasts the retries), checked, then resumed without faults in "
        "the same mode (a rescan answers the pages its bookmark holds with 304):"
    )
    text = "\n\n".join(
        part
        for part in (
            "### A. Faults from the ledger (Tripletex sync)",
            head,
            runs_table(clean, faulty),
            diff_table(clean, faulty),
            cut_intro,
            cuts_table(cuts),
            bullets("Problems:", a_problems(clean, faulty, cuts)),
            f"Section A: **{'PASS' if ok else 'FAIL'}** ({seconds:.0f} s)",
        )
        if part
    )
    return text, ok


def report_b(run: kravia.Results) -> tuple[str, bool]:
    """Section B as Markdown, and whether everything held."""
    s, t, wire, rounds, seconds = run.settings, run.tally, run.wire, run.rounds, run.seconds
    sandbox = run.kravia
    counts = sandbox.injector.counts
    ok = run.passed
    held_payments = sum(len(c["payments"]) for c in sandbox.claims.values())
    head = (
        f"{s.debtors} debtors x {s.per_debtor} invoices handed off on {TODAY_B}, then an OCR file "
        f"paying half of every third by KID. Random faults on {s.kravia_rate:.0%} of requests "
        f"(seed {s.seed}; slow = {SLOW_S} s against a {READ_TIMEOUT_S} s read timeout), and every "
        f"{s.drop_after_write}th write accepted with its answer lost. Worker rounds: {rounds[0]} "
        f"for the cases, {rounds[1]} for the payments (the clock moved two hours between rounds)."
    )
    table = md_table(
        ["", "figure"],
        [
            [
                "sends intended: cases (debtors) / claims (invoices) / payments",
                f"{t.cases} / {t.claims} / {t.payments} (OCR file: {t.paid_in_file})",
            ],
            ["outbox rows", f"{sum(t.outbox.values())}: {dict(t.outbox)}"],
            ["outbox attempts (rows taken by the worker)", t.attempts],
            ["requests (sandbox saw / client sent)", f"{counts['requests']} / {wire.sent}"],
            [
                "faults injected",
                ", ".join(f"{k} {counts[k]}" for k in B_KINDS),
            ],
            ["client saw", dict(sorted(wire.seen.items()))],
            [
                "at Kravia: cases / claims / payments",
                f"{len(sandbox.cases)} / {len(sandbox.claims)} / {held_payments}",
            ],
            ["duplicates", f"{sum(t.duplicates.values())} {dict(t.duplicates)}"],
            ["lost", f"{sum(t.lost.values())} {dict(t.lost)}"],
            ["amount or id mismatches", len(t.problems)],
        ],
    )
    text = "\n\n".join(
        part
        for part in (
            "### B. Faults from the agency (Kravia sends)",
            head,
            table,
            bullets("Problems:", not_exercised(counts, B_KINDS) + t.problems),
            f"Section B: **{'PASS' if ok else 'FAIL'}** ({seconds:.0f} s)",
        )
        if part
    )
    return text, ok
