"""The crash harness's figures (bench/crash.py): per kind of send what was meant, what the
remotes hold and what is left for a person, counted from the outbox and the sandboxes after a
run, and written as Markdown."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from adapter.store.tables import handoff_items, outbox
from bench.markdown import table

if TYPE_CHECKING:
    from bench.crash_stage import Staged

KINDS = (
    "tripletex.payment",
    "tripletex.reminder",
    "kravia.register",
    "kravia.payment",
    "kravia.creditnote",
    "letter.email",
)


@dataclass
class KindFigures:
    """One kind of send: what was meant, what the remote holds, what is left for a person."""

    intended: int = 0
    sent: int = 0
    failed: int = 0
    remote: int = 0
    duplicates: int = 0
    lost: int = 0
    left: Counter[str] = field(default_factory=Counter)  # reason -> rows waiting for a person
    crashes: Counter[str] = field(default_factory=Counter)  # point -> crashes holding this kind
    lookups_failed: int = 0  # lookups of this kind a remote failed (`CrashReport.failed_lookups`)


@dataclass
class CrashReport:
    """A run's figures, per kind of send and in all."""

    kinds: dict[str, KindFigures] = field(default_factory=lambda: {k: KindFigures() for k in KINDS})
    kills: int = 0
    crashes_by_point: Counter[str] = field(default_factory=Counter)
    lookups: Counter[str] = field(default_factory=Counter)  # counted by the sandboxes
    # The failed lookups, by name ("lookup:<row>:<try>", the requests' purpose header): those
    # the remotes failed (every request of each; the figure the report counts), those a worker
    # recorded as failed, and those whose worker died while it may have been making them.
    failed_lookups: dict[str, str] = field(default_factory=dict)  # name -> fault
    noted_lookups: set[str] = field(default_factory=set)
    cut_lookups: set[str] = field(default_factory=set)
    faults: Counter[str] = field(default_factory=Counter)  # Tripletex's and Kravia's, by kind
    smtp: Counter[str] = field(default_factory=Counter)
    person: Counter[str] = field(default_factory=Counter)
    workers: int = 0
    at_once: int = 3
    threads: int = 1
    seed: int = 1
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    timed_out: bool = False
    worker_errors: Counter[int] = field(default_factory=Counter)  # exit code -> workers
    errors_seen: str = ""  # the end of the workers' log (errors only), when any ended so
    cpu_s: dict[str, float] = field(default_factory=dict)  # robust to other load on the machine

    @property
    def intended(self) -> Counter[str]:
        """Rows queued, by kind."""
        return Counter({k: f.intended for k, f in self.kinds.items() if f.intended})

    @property
    def sent(self) -> int:
        """Rows marked sent."""
        return sum(f.sent for f in self.kinds.values())

    @property
    def duplicates(self) -> int:
        """Effects at the remotes beyond the one meant."""
        return sum(f.duplicates for f in self.kinds.values())

    @property
    def lost(self) -> int:
        """Rows marked sent whose effect no remote holds."""
        return sum(f.lost for f in self.kinds.values())

    @property
    def unknown_left(self) -> int:
        """Rows waiting for a person (or not done when the run ended)."""
        return sum(sum(f.left.values()) for f in self.kinds.values())

    @property
    def lookups_unexplained(self) -> set[str]:
        """Lookups a remote failed that no worker recorded and no worker died making."""
        return set(self.failed_lookups) - self.noted_lookups - self.cut_lookups

    @property
    def crashes(self) -> int:
        """Workers that crashed inside, at one of the points."""
        return sum(self.crashes_by_point.values())

    def as_markdown(self) -> str:
        """The figures: one row per kind of send, then the run's faults and settings."""
        rows = [
            {
                "send": kind,
                "intended": f.intended,
                "sent": f.sent,
                "failed": f.failed,
                "at the remote": f.remote,
                "duplicates at the remote": f.duplicates,
                "lost": f.lost,
                "left for a person (reason)": "; ".join(
                    f"{n} x {reason}" for reason, n in f.left.most_common()
                )
                or 0,
                "crashes before send / after send / in lookup": " / ".join(
                    str(f.crashes[p]) for p in ("before_send", "after_send", "in_lookup")
                ),
                "failed lookups": f.lookups_failed,
            }
            for kind, f in self.kinds.items()
        ]
        rows.append(
            {
                "send": "all",
                "intended": sum(self.intended.values()),
                "sent": self.sent,
                "failed": sum(f.failed for f in self.kinds.values()),
                "at the remote": sum(f.remote for f in self.kinds.values()),
                "duplicates at the remote": self.duplicates,
                "lost": self.lost,
                "left for a person (reason)": self.unknown_left,
                "crashes before send / after send / in lookup": " / ".join(
                    str(self.crashes_by_point[p])
                    for p in ("before_send", "after_send", "in_lookup")
                ),
                "failed lookups": len(self.failed_lookups),
            }
        )
        run = {
            "seed": self.seed,
            "workers at once": f"{self.at_once} processes x {self.threads} thread(s)",
            "worker processes": self.workers,
            "SIGKILLs": self.kills,
            "crashes inside": self.crashes,
            "lookups (sandboxes)": self.lookups["lookups"],
            "failed lookups (sandboxes)": len(self.failed_lookups),
            "failed lookups by fault": ", ".join(
                f"{k} {v}" for k, v in sorted(Counter(self.failed_lookups.values()).items())
            ),
            "of them recorded failed by a worker / cut by its worker's death / unexplained": (
                f"{len(self.noted_lookups & set(self.failed_lookups))} / "
                f"{len((self.cut_lookups & set(self.failed_lookups)) - self.noted_lookups)} / "
                f"{len(self.lookups_unexplained)}"
            ),
            "failed lookups a worker recorded, not failed by the plan": len(
                self.noted_lookups - set(self.failed_lookups)
            ),
            "other faults (Tripletex, Kravia)": ", ".join(
                f"{k} {v}" for k, v in sorted(self.faults.items())
            ),
            "SMTP faults": ", ".join(f"{k} {v}" for k, v in sorted(self.smtp.items())) or "none",
            "settled by a person": ", ".join(f"{k} {v}" for k, v in sorted(self.person.items()))
            or "none",
            "CPU seconds (harness and remotes / workers)": (
                f"{self.cpu_s['harness']:.0f} / {self.cpu_s['workers']:.0f}"
            ),
            "seconds": " + ".join(f"{k} {v:.0f}" for k, v in self.phases.items())
            + f" = {self.seconds:.0f}",
        }
        if self.worker_errors:
            run["workers ended by an error (exit code: workers)"] = ", ".join(
                f"{code}: {n}" for code, n in sorted(self.worker_errors.items())
            )
        if self.timed_out:
            run["ended"] = "TIMED OUT with rows still open (counted as left)"
        return table(rows) + "\n\n" + table([run]) + "\n\n" + FIGURES


FIGURES = """\
Figures: "intended" counts outbox rows; "at the remote" counts effects (a Kravia case of two
invoices is two claims). "duplicates at the remote": effects beyond the one meant; "lost":
rows marked sent whose effect the remote lacks. "left for a person": rows not sent at the
end, each with its reason (waiting for a person in the worklist, or still open when a run
was cut). "crashes": worker processes that ended themselves at that point of a send (the
kind is the first row the dead worker held). "failed lookups" is one count: the lookups the
remotes failed (every request of each, by its `X-Kravflyt-Purpose` name, once even when a
lookup asked two remotes). Each was either recorded as failed by its worker (the row stays
unknown and is looked up again) or cut short by its worker's death: a worker sends several
rows at once, and a crash in one of its threads (or a SIGKILL) ends the lookups in flight in
the others before they can record anything; "unexplained" must be 0. (The workers' own
count alone is lower than the remotes': in the run of 2026-12-07 07:56, 318 against 686.)"""


# ------------------------------------------------------------------ counting


def count_remote(stage: Staged) -> None:
    """Compare what the remotes hold with what each row meant (per kind: the effect's key at
    the remote, intended and sent counts per key)."""
    report = stage.report
    with stage.db.engine.connect() as conn:
        rows = conn.execute(
            select(
                outbox.c.id,
                outbox.c.kind,
                outbox.c.company_id,
                outbox.c.status,
                outbox.c.payload,
                outbox.c.result,
                outbox.c.last_error,
            )
        ).all()
        references: dict[int, list[str]] = {}
        for item in conn.execute(
            select(handoff_items.c.case_id, handoff_items.c.reference).order_by(handoff_items.c.id)
        ):
            references.setdefault(item.case_id, []).append(item.reference)
    meant: dict[str, Counter[Any]] = {k: Counter() for k in KINDS}
    done: dict[str, Counter[Any]] = {k: Counter() for k in KINDS}
    for r in rows:
        figures = report.kinds.setdefault(r.kind, KindFigures())
        figures.intended += 1
        if r.status == "sent":
            figures.sent += 1
        elif r.status == "failed":
            figures.failed += 1
        else:
            figures.left[_reason(r.status, r.last_error)] += 1
        if r.kind not in meant or (r.result or {}).get("agency_payout"):
            continue
        for key in _keys(r, references):
            meant[r.kind][key] += 1
            if r.status == "sent":
                done[r.kind][key] += 1
    kind_of = {r.id: r.kind for r in rows}
    for name in report.failed_lookups:
        report.kinds[kind_of[int(name.split(":")[1])]].lookups_failed += 1
    held = _held(stage)
    for kind in KINDS:
        f = report.kinds[kind]
        f.remote = sum(held[kind].values())
        f.duplicates = sum(max(0, n - meant[kind][k]) for k, n in held[kind].items())
        f.lost = sum(max(0, n - held[kind][k]) for k, n in done[kind].items())


def _keys(row: Any, references: dict[int, list[str]]) -> list[Any]:
    """The keys of the effects a row means at its remote."""
    p = row.payload
    if row.kind == "tripletex.payment":
        return [(str(p["invoice_external_id"]), p["date"], int(p["amount_ore"]))]
    if row.kind == "tripletex.reminder":
        return [(str(p["invoice_external_id"]), p["type"], p["date"])]
    if row.kind == "kravia.register":
        return list(references.get(int(p["case_id"]), []))
    if row.kind in ("kravia.payment", "kravia.creditnote"):
        kind = row.kind.split(".")[1]
        return [f"kravflyt:{row.company_id}:{kind}:{p['payment_id']}:{p['invoice_id']}"]
    if row.kind == "letter.email":
        return [f"letter-{row.company_id}-{p['letter_id']}"]
    return []


def _held(stage: Staged) -> dict[str, Counter[Any]]:
    """What the remotes hold, by the same keys."""
    tx, kr = stage.tripletex, stage.kravia
    payments = Counter(
        (str(iid), p["date"], int(-Decimal(str(p["amount"])) * 100))
        for iid, inv in tx.ledger.invoices.items()
        for p in inv["postings"]
        if p["type"] == "INCOMING_PAYMENT" and p["id"] not in stage.payments_before
    )
    reminders = Counter(
        (str(r["_invoiceId"]), r["type"], r["reminderDate"]) for r in tx.ledger.reminders.values()
    )
    claims_at = Counter(c["accountingInvoiceId"] for c in kr.claims.values())
    at_kravia = Counter(p["accountingPaymentId"] for c in kr.claims.values() for p in c["payments"])
    return {
        "tripletex.payment": payments,
        "tripletex.reminder": reminders,
        "kravia.register": claims_at,
        "kravia.payment": Counter({k: v for k, v in at_kravia.items() if ":payment:" in k}),
        "kravia.creditnote": Counter({k: v for k, v in at_kravia.items() if ":creditnote:" in k}),
        "letter.email": Counter(stage.mailbox.received),
    }


def _reason(status: str, error: str | None) -> str:
    """A row's reason, short, with ids taken out (so alike reasons are counted together)."""
    text = re.sub(r"\d+", "N", (error or status))[:120]
    return f"{status}: {text}"
