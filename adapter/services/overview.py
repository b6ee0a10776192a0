"""What the accountant's pages show: the overview figures and aging, the worklist, a claim's
whole history, suggestions for unmatched payments. Read-only queries over the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from adapter import company_settings
from adapter.domain import Money
from adapter.errors import InputError
from adapter.i18n import N_, Message
from adapter.i18n.labels import label
from adapter.services import dunning, handoff, rates, reconcile, work
from adapter.services.claim_facts import company_context, iter_claims
from adapter.store.uow import UnitOfWork
from policies.decisions import Decision
from policies.engine import RATE_HELD, decide
from policies.ladder import Stage
from policies.limitation import latest_due_warned
from policies.limitation import warning as limitation_warning
from policies.money import figure

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


@dataclass
class Overview:
    """The company's receivables in figures."""

    outstanding_ore: int = 0
    overdue_ore: int = 0
    at_agency_ore: int = 0
    collected_this_month_ore: int = 0
    aging: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    open_claims: int = 0
    plan: dict[str, Any] = field(default_factory=dict)


def _bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "1-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "90+"


def overview(uow: UnitOfWork, today: date, *, with_plan: bool = True) -> Overview:
    """Outstanding, overdue, at the agency, collected this month, aging, and today's plan (a
    reader's unit of work is enough: it is entered once for the figures, once for the plan)."""
    out = Overview()
    with uow:
        rows = uow.overview.receivables()
        for r in rows:
            amount = (
                r["outstanding_ore"]
                if r["ledger_outstanding_ore"] is None
                else min(r["outstanding_ore"], r["ledger_outstanding_ore"])
            )
            if r["status"] == "handed_off":
                out.at_agency_ore += amount
                continue
            out.open_claims += 1
            out.outstanding_ore += amount
            overdue = (today - r["due_date"]).days
            if overdue > 0:
                out.overdue_ore += amount
            out.aging[_bucket(overdue)] += amount
        month_start = today.replace(day=1)
        out.collected_this_month_ore = uow.overview.collected(month_start, today)
    if with_plan:
        summary = dunning.PlanSummary()
        for _row, _facts, decisions in dunning.plan(uow, today):
            summary.add(decisions)
        out.plan = summary.as_json()
    return out


def aging_svg(
    aging: dict[str, int], labels: dict[str, str], *, width: int = 560, height: int = 220
) -> str:
    """The aging as an SVG bar chart (drawn on the server, no script)."""
    top = max(aging.values()) or 1
    bar_w = width // (len(BUCKETS) * 2)
    colors = {
        "current": "#3a7ca5",
        "1-30": "#81c3d7",
        "31-60": "#f2c14e",
        "61-90": "#f78154",
        "90+": "#b33f40",
    }
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-label="{labels["title"]}" class="aging">'
    ]
    chart_h = height - 50
    for i, bucket in enumerate(BUCKETS):
        value = aging[bucket]
        h = round(chart_h * value / top)
        x = bar_w // 2 + i * bar_w * 2
        y = 20 + chart_h - h
        kroner = figure(value - value % 100).removesuffix(",00")  # whole kroner on the chart
        parts.append(
            f'<rect x="{x}" y="{y}" width="{bar_w}" height="{max(h, 1)}" fill="{colors[bucket]}"><title>{labels[bucket]}: {kroner} kr</title></rect>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2}" y="{y - 5}" text-anchor="middle" font-size="11">{kroner}</text>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2}" y="{height - 12}" text-anchor="middle" font-size="12">{labels[bucket]}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass
class Worklist:
    """What needs a person."""

    unmatched: list[dict[str, Any]]
    disputed: list[dict[str, Any]]
    handoff: list[dict[str, Any]]
    dead_jobs: list[work.WorkItem]
    failed_sends: list[work.WorkItem]
    dead_webhooks: list[work.WorkItem]
    # Tripletex: claims that differ from the ledger (with what to do), letters on which
    # Tripletex put other figures than Kravflyt decided or that break a legal rule, customers
    # Tripletex dunns itself, and webhook subscriptions Tripletex had disabled.
    ledger: list[dict[str, Any]] = field(default_factory=list)
    letters: list[dict[str, Any]] = field(default_factory=list)
    ledger_automation: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    # Claims within dunning.limitation_warn_days of being time-barred (H1), soonest first, and
    # what letters lack while the creditor's contact details are missing (H4).
    limitation: list[dict[str, Any]] = field(default_factory=list)
    letters_blocked: str | None = None
    # Dated legal figures the table lacks (from 1 December / 1 June), and the letters held
    # because their interest would run past the last known rate (dunning.unknown_rate = hold).
    rates: list[str] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    # Claims at the agency whose Kravia status needs a person: a status code Kravflyt does not
    # know (shown as it came), legal steps waiting for approval, a case withdrawn or written off.
    agency: list[dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many things wait."""
        return sum(
            len(x)
            for x in (
                self.rates,
                self.held,
                self.unmatched,
                self.disputed,
                self.handoff,
                self.dead_jobs,
                self.failed_sends,
                self.dead_webhooks,
                self.ledger,
                self.letters,
                self.ledger_automation,
                self.webhooks,
                self.limitation,
                self.agency,
            )
        ) + (1 if self.letters_blocked else 0)


def worklist(uow: UnitOfWork, today: date, *, payments_shown: int = 500) -> Worklist:
    """Unmatched payments, disputed claims, hand-off candidates, dead jobs, failed sends. A
    reader's unit of work is enough; each read it composes enters it again in turn."""
    with uow:
        items = uow.worklist
        unmatched = items.unmatched(limit=payments_shown)
        disputed = items.disputed()
        ladder = company_context(uow.settings.all()).ladder
        near_limitation = _near_limitation(
            items.open_due_by(latest_due_warned(today, ladder.limitation_warn_days)),
            today,
            ladder.limitation_warn_days,
            ladder.limitation_stop_days,
        )
        tripletex = {
            "letters": items.letters_told_otherwise(),
            "ledger_automation": items.customers_dunned_by_tripletex(today),
            "webhooks": items.webhooks_stopped_since(uow.clock.now() - timedelta(days=14)),
        }
        at_agency = items.at_agency_needing_a_person()
        letters_blocked = company_settings.effective(
            company_settings.LetterSettings, uow.settings.get("letters")
        ).missing_contact()
    bundles = [b.as_json() for b in handoff.candidates(uow, today)]
    return Worklist(
        unmatched=unmatched,
        disputed=disputed,
        handoff=bundles,
        dead_jobs=work.list_items(uow, "jobs", limit=5000),
        failed_sends=failed_sends(uow),
        dead_webhooks=work.list_items(uow, "inbox", limit=5000),
        ledger=[r.as_json() for r in reconcile.ledger(uow) if r.differences],
        limitation=near_limitation,
        letters_blocked=letters_blocked,
        **tripletex,
        rates=[str(w.message()) for w in rates.warnings(rates.current_rates(uow), today)],
        held=_held(uow, today),
        agency=at_agency,
    )


@dataclass
class Section:
    """One section of the worklist page: its items (filtered by `q`), a page of them shown."""

    key: str
    title: Message
    items: list[Any]
    page: int = 0
    size: int = 10
    q: str = ""

    @property
    def count(self) -> int:
        """How many items the section has (after the filter)."""
        return len(self.items)

    @property
    def shown(self) -> list[Any]:
        """The items on the page shown."""
        return self.items[self.page * self.size : (self.page + 1) * self.size]

    @property
    def more(self) -> bool:
        """Whether a next page follows."""
        return (self.page + 1) * self.size < len(self.items)


# The worklist's sections in the order a person should look at them: what failed first, then
# money to match, disputes and hand-off, then the rest. Each with its title and the text its
# filter searches in.
SECTIONS: dict[str, tuple[Message, Callable[[Any], str]]] = {
    "sends": (N_("Failed sends"), lambda i: f"{i.id} {i.name} {i.last_error} {i.payload}"),
    "jobs": (N_("Stopped jobs"), lambda i: f"{i.id} {i.name} {i.last_error}"),
    "inbox": (N_("Failed webhooks"), lambda i: f"{i.id} {i.name} {i.last_error}"),
    "payments": (
        N_("Payments to match"),
        lambda p: (
            f"{p['kid']} {p['message']} {p['payer_name']} {p['customer']} "
            f"{Money(p['amount_ore']).format(thousands='')}"
        ),
    ),
    "disputes": (
        N_("Disputed claims"),
        lambda d: f"{d['number']} {d['customer']} {d['dispute_reason']}",
    ),
    "handoff": (
        N_("Ready for collection"),
        lambda b: (
            f"{b['customer']} {b['customer_number']} {b['org_number']} "
            + " ".join(i["invoice"] for i in b["invoices"])
        ),
    ),
    "held": (
        N_("Letters held for a missing interest rate"),
        lambda h: f"{h['number']} {h['customer']}",
    ),
    "limitation": (N_("Claims soon time-barred"), lambda x: f"{x['number']} {x['customer']}"),
    "letters": (
        N_("Letters Tripletex filled in otherwise, or that break the law"),
        lambda x: f"{x['number']} {x['customer']}",
    ),
    "ledger": (
        N_("Differences from the ledger (Tripletex)"),
        lambda r: f"{r['invoice']} {r['customer']}",
    ),
    "agency": (N_("Claims at Kravia that need you"), lambda a: f"{a['number']} {a['customer']}"),
    "automation": (N_("Customers Tripletex dunns itself"), lambda c: f"{c['name']}"),
    "webhooks": (N_("Webhooks Tripletex had stopped"), lambda h: f"{h['message']}"),
}


def worklist_sections(
    uow: UnitOfWork,
    today: date,
    *,
    section: str = "",
    page: int = 0,
    q: str = "",
    size: int = 10,
) -> tuple[Worklist, list[Section]]:
    """The worklist in sections, each with its count; `section` is paged to `page` and
    filtered by `q` (case-blind, in its invoice numbers, names, KIDs, messages ...)."""
    w = worklist(uow, today, payments_shown=5000)
    items: dict[str, list[Any]] = {
        "sends": w.failed_sends,
        "jobs": w.dead_jobs,
        "inbox": w.dead_webhooks,
        "payments": w.unmatched,
        "disputes": w.disputed,
        "handoff": sorted(w.handoff, key=lambda b: -b["summary"]["principal_ore"]),
        "held": w.held,
        "limitation": w.limitation,
        "letters": w.letters,
        "ledger": w.ledger,
        "agency": w.agency,
        "automation": w.ledger_automation,
        "webhooks": w.webhooks,
    }
    out = []
    for key, (title, text) in SECTIONS.items():
        found = items[key]
        asked = q.strip().casefold() if key == section else ""
        if asked:
            found = [x for x in found if asked in text(x).casefold()]
        out.append(
            Section(key, title, found, page if key == section else 0, size, q if asked else "")
        )
    return w, out


def letters_of(uow: UnitOfWork, items: list[work.WorkItem]) -> dict[int, dict[str, Any]]:
    """The letters failed sends carry (by the outbox row's id): stage, invoice, customer."""
    wanted = {i.id: int(i.payload["letter_id"]) for i in items if i.payload.get("letter_id")}
    with uow:
        found = uow.worklist.letters_by_id(sorted(set(wanted.values())))
    return {row_id: found[letter_id] for row_id, letter_id in wanted.items() if letter_id in found}


def failed_sends(uow: UnitOfWork) -> list[work.WorkItem]:
    """Sends refused for good or with an unknown outcome, newest first; a send whose letter a
    person cancelled waits for nobody and is left out (a reader's unit of work is enough)."""
    sends = work.list_items(uow, "outbox", limit=5000)
    carried = letters_of(uow, sends)
    return [i for i in sends if carried.get(i.id, {}).get("status") != "cancelled"]


def payments_to_match(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every payment waiting for a person to match it (unmatched, or booked on the customer),
    newest first."""
    with uow:
        return uow.worklist.unmatched(limit=None)


def _near_limitation(
    rows: list[dict[str, Any]], today: date, warn_days: int, stop_days: int
) -> list[dict[str, Any]]:
    """Open claims within the warning days of being time-barred (or past it), soonest first,
    with the day automatic dunning and hand-off stop (H1): hand them off in time."""
    out = []
    for r in rows:
        barred = limitation_warning(r["due_date"], r["limitation_renewed_on"], today, warn_days)
        if barred is not None:
            out.append(
                r
                | {
                    "limitation_date": barred,
                    "stop_from": barred - timedelta(days=stop_days),
                    "time_barred": today >= barred,
                }
            )
    return sorted(out, key=lambda x: (x["limitation_date"], x["number"]))


def _held(uow: UnitOfWork, today: date) -> list[dict[str, Any]]:
    """Letters held because their interest would run past the last known rate (the plan is
    made only when a rate is missing: only then can a letter be held)."""
    known = rates.current_rates(uow).interest.known_until
    held: list[dict[str, Any]] = []
    if known is not None and today > known:
        for row, _facts, decisions in dunning.plan(uow, today):
            for d in decisions:
                if d.stated and d.stated[0].rule == RATE_HELD:
                    held.append(
                        {
                            "invoice_id": row.invoice_id,
                            "number": row.invoice_number,
                            "customer": row.customer_name,
                            "reason": d.stated[0].text,
                        }
                    )
    return held


@dataclass
class ClaimPage:
    """A claim's whole story and what comes next."""

    invoice: dict[str, Any]
    customer: dict[str, Any]
    claim: dict[str, Any]
    timeline: list[dict[str, Any]]
    decisions: list[Decision]
    letters: list[dict[str, Any]]


def claim_page(uow: UnitOfWork, invoice_id: int, today: date) -> ClaimPage:
    """The invoice's history as a timeline, each step with the rule behind it, and the next step."""
    with uow:
        company_id = uow.require_company()
        invoice = uow.invoices.get(invoice_id)
        customer = uow.customers.get(invoice.customer_id)
        claim_row = uow.overview.claim_row(invoice_id)
        events: list[dict[str, Any]] = [
            {
                "date": invoice.invoice_date,
                "kind": "invoice",
                "text": f"invoice {invoice.number}",
                "amount_ore": invoice.amount.ore,
                "rules": [],
            }
        ]
        for a in uow.overview.allocations(invoice_id):
            events.append(
                {
                    "date": a["payment_date"] or a["allocated_on"],
                    "kind": f"allocation.{a['kind']}",
                    "amount_ore": a["amount_ore"],
                    "text": f"{a['kind']} {a['order_used']}"
                    + (f" ({a['source']}, {a['match_method']})" if a["source"] else "")
                    # Kravia's payout, not the debtor's payment: said in words.
                    + (
                        f": {label('match_method', a['match_method'])}"
                        if a["match_method"] == "agency_payout"
                        else ""
                    ),
                    "rules": [],
                }
            )
        letter_rows = uow.overview.letters(claim_row["id"])
        for x in letter_rows:
            events.append(
                {
                    "date": x["sent_on"],
                    "kind": f"letter.{x['stage']}",
                    "amount_ore": x["fee_ore"] + x["interest_ore"],
                    "text": letter_text(x),
                    "rules": [r["rule"] for r in (x["reasons"] or [])],
                    "reasons": x["reasons"] or [],
                    "breaches": x["breaches"] or [],
                    "letter": x,
                }
            )
        for e in uow.overview.invoice_story(invoice_id):
            events.append(
                {
                    "date": _day(e["at"]),
                    "kind": e["action"],
                    "text": e["message"],
                    "rules": list(e["rules"] or []),
                    "actor": e["actor"],
                    "said": (e["data"] or {}).get("said"),  # the catalogue's words, when kept
                }
            )
        settings = uow.settings.all()
        found = list(
            iter_claims(
                uow.conn,
                company_id,
                settings.get("dunning"),
                invoice_ids=[invoice_id],
                statuses=("open", "handed_off", "closed"),
            )
        )
        decisions = (
            decide(found[0][1], company_context(settings, rates.current(uow)), today)
            if found
            else []
        )
        missing = company_settings.effective(
            company_settings.LetterSettings, settings.get("letters")
        ).missing_contact()
        if missing:  # as the plan: no letter while the creditor's contact details lack (H4)
            decisions = dunning.without_letters(decisions, missing)
    events.sort(key=lambda e: (e["date"], e["kind"] != "invoice"))
    return ClaimPage(
        invoice={
            "id": invoice.id,
            "number": invoice.number,
            "invoice_date": invoice.invoice_date,
            "due_date": invoice.due_date,
            "amount_ore": invoice.amount.ore,
            "outstanding_ore": invoice.outstanding.ore,
            "kid": invoice.kid.value if invoice.kid else None,
            "currency": invoice.currency,
            "source": invoice.source,
        },
        customer={
            "id": customer.id,
            "name": customer.name,
            "kind": customer.kind.value,
            "number": customer.customer_number,
            "blocked": customer.blocked,
            "excluded": customer.dunning_excluded,
        },
        claim=claim_row,
        timeline=events,
        decisions=decisions,
        letters=letter_rows,
    )


def letter_text(x: dict[str, Any]) -> str:
    """A letter as the debtor got it, who sent it, and what Kravflyt had decided when
    Tripletex put other figures on it."""
    text = (
        f"{Stage(x['stage']).label}"
        + (" (sent by Tripletex itself)" if x.get("origin") == "tripletex" else "")
        + f": fee {Money(x['fee_ore'])} kr, interest {Money(x['interest_ore'])} kr"
        + (f", compensation {Money(x['compensation_ore'])} kr" if x.get("compensation_ore") else "")
        + f", deadline {x['deadline']}"
    )
    decided = x.get("decided")
    if decided:
        text += (
            f". Tripletex put these figures on the letter; Kravflyt had decided fee "
            f"{Money(int(decided['fee_ore']))} kr, interest {Money(int(decided['interest_ore']))} kr, "
            f"compensation {Money(int(decided['compensation_ore']))} kr, deadline {decided['deadline']}"
        )
    return text


def _day(value: datetime) -> date:
    return value.date()


def audit_page(
    uow: UnitOfWork,
    *,
    text: str | None,
    action: str | None,
    page: int,
    size: int = 50,
) -> tuple[list[Any], bool]:
    """Audit entries newest first, filtered, one page; and whether there is a next page
    (`size` entries from `page`; the export asks for every entry, up to `size`)."""
    for where, value in (("q", text), ("action", action)):
        if value and "\x00" in value:  # PostgreSQL refuses NUL in text: a 400, not a 500
            raise InputError(where, "must not contain a NUL character")
    with uow:
        rows = uow.audit.search(text=text, action=action, offset=page * size, limit=size + 1)
    return list(rows[:size]), len(rows) > size
