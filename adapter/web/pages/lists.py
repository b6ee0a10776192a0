"""The claims list (filters, sorting, paging) and the export of every list as CSV or Excel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from adapter.domain import Money
from adapter.errors import InputError
from adapter.i18n import _
from adapter.i18n.labels import event, label, who
from adapter.services import claim_list, handoff, overview
from adapter.services.claim_list import STAGE_ORDER, ClaimFilter, ClaimLine
from adapter.store.database import Database
from adapter.web.export import FORMATS, Column, download
from adapter.web.ids import Id, Page
from adapter.web.pages import work_pages
from adapter.web.pages.security import Reader
from adapter.web.pages.views import render, said

router = APIRouter(include_in_schema=False)
YES_NO = ("", "yes", "no")
EXPORT_LIMIT = 100_000  # audit lines in one export: a narrower search finds older ones


def database(request: Request) -> Database:
    """The app's database."""
    return request.app.state.db


def _today(request: Request) -> date:
    return database(request).clock.today()


# ------------------------------------------------------------------ the claims list


@dataclass
class ClaimQuery:
    """The claims list's filters and order as the form sends them (text, so a wrong value is
    shown back as typed), and what they mean."""

    stage: str = ""
    overdue: str = ""
    amount_from: str = ""
    amount_to: str = ""
    disputed: str = ""
    at_agency: str = ""
    held: str = ""
    closed: str = ""
    sort: str = "due"
    desc: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, request: Request) -> ClaimQuery:
        """The query from the URL's parameters (unknown ones are left out)."""
        names = cls.__dataclass_fields__.keys() - {"errors"}
        found = cls()
        for k, v in request.query_params.items():
            if k in names:
                setattr(found, k, v[:40])
        return found

    def params(self, **changed: str) -> str:
        """The URL query of this list, with some values changed (empty values left out)."""
        values = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "errors"}
        values |= changed
        return urlencode({k: v for k, v in values.items() if v})

    def _yes_no(self, name: str) -> bool | None:
        value = getattr(self, name)
        if value not in YES_NO:
            self.errors[name] = _("Choose yes, no or either")
            return None
        return None if not value else value == "yes"

    def _ore(self, name: str) -> int | None:
        value = getattr(self, name).strip()
        if not value:
            return None
        try:
            return Money.parse(value).ore
        except InputError:
            self.errors[name] = _("Write an amount in kroner, e.g. 1 234,50")
            return None

    def filter(self) -> ClaimFilter:
        """The filter the values ask for; a value that cannot be read is left out and its
        field gets a message in `errors`."""
        if self.stage and self.stage not in STAGE_ORDER:
            self.errors["stage"] = _("Choose a stage from the list")
        days = None
        if self.overdue.strip():
            if self.overdue.strip().isdigit() and int(self.overdue) <= 100_000:
                days = int(self.overdue)
            else:
                self.errors["overdue"] = _("Write a number of days, e.g. 30")
        if self.sort not in claim_list.SORTS:
            self.sort = "due"
        return ClaimFilter(
            stage=self.stage if self.stage in STAGE_ORDER else None,
            overdue_days=days,
            amount_from_ore=self._ore("amount_from"),
            amount_to_ore=self._ore("amount_to"),
            disputed=self._yes_no("disputed"),
            at_agency=self._yes_no("at_agency"),
            held=self._yes_no("held"),
            closed=self.closed == "yes",
        )


@router.get("/c/{company_id}/claims", response_class=HTMLResponse)
def claims_page(request: Request, company_id: Id, who: Reader, page: Page = 0) -> Response:
    """Every claim, filtered by stage, days overdue, amount, disputed, at the agency and held;
    sorted by invoice number, due date, amount, customer (Norwegian order) or stage; paged."""
    asked = ClaimQuery.read(request)
    found = claim_list.claim_list(
        database(request).uow(company_id, read_only=True),
        asked.filter(),
        _today(request),
        sort=asked.sort,
        descending=asked.desc == "1",
        page=page,
    )
    return render(
        request,
        "claims.html.j2",
        who=who,
        company_id=company_id,
        found=found,
        asked=asked,
        stages=STAGE_ORDER,
        stage_words=stage_words,
        today=_today(request),
    )


def stage_words(line: ClaimLine) -> str:
    """Where a claim stands, in words: its last letter, or at the agency, or closed."""
    if line.status == "handed_off":
        return label("claim_status", "handed_off")
    if line.status == "closed":
        return label("claim_status", "closed")
    return _("No letter yet") if line.stage == "none" else label("stage", line.stage)


def yes(value: Any) -> str:
    """Yes or nothing, for a column of flags."""
    return _("yes") if value else ""


def claim_columns() -> list[Column]:
    """The claims list's columns in a file."""
    return [
        Column(_("Invoice"), lambda x: x.number),
        Column(_("Customer"), lambda x: x.customer),
        Column(_("Customer number"), lambda x: x.customer_number),
        Column(_("Invoice date"), lambda x: x.invoice_date, "date"),
        Column(_("Due"), lambda x: x.due_date, "date"),
        Column(_("Days overdue"), lambda x: x.days_overdue, "number"),
        Column(_("Amount"), lambda x: x.amount_ore, "money"),
        Column(_("Outstanding"), lambda x: x.outstanding_ore, "money"),
        Column(_("Stage"), stage_words),
        Column(_("Disputed"), lambda x: yes(x.disputed)),
        Column(_("Dunning stopped"), lambda x: yes(x.stopped)),
        Column(_("Postponed until"), lambda x: x.hold_until, "date"),
    ]


# ------------------------------------------------------------------ exports


def _audit_columns() -> list[Column]:
    return [
        Column(_("Time"), lambda r: r.at, "time"),
        Column(_("Who"), lambda r: who(r.actor)),
        Column(_("What"), lambda r: event(r.action)),
        Column(_("Message"), lambda r: said(r.data["said"]) if r.data.get("said") else r.message),
        Column(_("Rule"), lambda r: ", ".join(r.rules or [])),
    ]


def _payment_columns() -> list[Column]:
    return [
        Column(_("Date"), lambda p: p["payment_date"], "date"),
        Column(_("Amount"), lambda p: p["amount_ore"], "money"),
        Column(_("Currency"), lambda p: p["currency"]),
        Column(_("KID"), lambda p: p["kid"]),
        Column(_("Payer"), lambda p: p["payer_name"]),
        Column(_("Message"), lambda p: p["message"]),
        Column(_("Customer"), lambda p: p["customer"]),
        Column(
            _("Status"),
            lambda p: (
                label("unmatched_reason", p["unmatched_reason"])
                if p["unmatched_reason"]
                else label("payment_status", p["status"])
            ),
        ),
    ]


def _handoff_columns() -> list[Column]:
    """One line per claim to hand off, with who the debtor is."""
    return [
        Column(_("Customer"), lambda x: x[0]["customer"]),
        Column(_("Customer number"), lambda x: x[0]["customer_number"]),
        Column(_("Organisation number"), lambda x: x[0]["org_number"]),
        Column(_("Birth date"), lambda x: x[0]["birth_date"], "date"),
        Column(_("Invoice"), lambda x: x[1]["invoice"]),
        Column(_("Original"), lambda x: x[1]["original_ore"], "money"),
        Column(_("Paid"), lambda x: x[1]["paid_ore"], "money"),
        Column(_("Principal"), lambda x: x[1]["principal_ore"], "money"),
        Column(_("Fees"), lambda x: x[1]["fees_ore"], "money"),
        Column(_("Interest"), lambda x: x[1]["interest_ore"], "money"),
        Column(
            _("To collect"),
            lambda x: x[1]["principal_ore"] + x[1]["fees_ore"] + x[1]["interest_ore"],
            "money",
        ),
    ]


def _claim_ref_columns(number: str = "number") -> list[Column]:
    return [
        Column(_("Invoice"), lambda x: x[number]),
        Column(_("Customer"), lambda x: x["customer"]),
    ]


def _work_item_columns() -> list[Column]:
    return [
        Column("#", lambda i: i.id, "number"),
        Column(
            _("What"), lambda i: label("outbox_kind", i.name) if i.table == "outbox" else i.name
        ),
        Column(_("Status"), lambda i: label("send_status", i.status)),
        Column(_("Tries"), lambda i: i.attempts, "number"),
        Column(_("Why"), lambda i: i.reason or i.last_error),
        Column(_("Time"), lambda i: i.created_at, "time"),
    ]


def section_columns(key: str) -> list[Column]:
    """The columns of a worklist section in a file."""
    if key in ("sends", "jobs", "inbox"):
        return _work_item_columns()
    if key == "payments":
        return _payment_columns()
    if key == "handoff":
        return [
            Column(_("Customer"), lambda b: b["customer"]),
            Column(_("Customer number"), lambda b: b["customer_number"]),
            Column(_("Organisation number"), lambda b: b["org_number"]),
            Column(_("Claims"), lambda b: len(b["invoices"]), "number"),
            Column(_("To collect"), lambda b: b["summary"]["total_ore"], "money"),
        ]
    if key == "disputes":
        return [
            *_claim_ref_columns(),
            Column(_("Due"), lambda d: d["due_date"], "date"),
            Column(_("Outstanding"), lambda d: d["outstanding_ore"], "money"),
            Column(_("Reason"), lambda d: d["dispute_reason"]),
        ]
    if key == "limitation":
        return [
            *_claim_ref_columns(),
            Column(_("Outstanding"), lambda x: x["outstanding_ore"], "money"),
            Column(_("Time-barred"), lambda x: x["limitation_date"], "date"),
        ]
    if key == "ledger":
        return [
            *_claim_ref_columns("invoice"),
            Column(_("Status"), lambda r: label("claim_status", r["status"])),
            Column(_("Principal in Tripletex"), lambda r: r["ledger_ore"], "money"),
            Column(_("Principal in Kravflyt"), lambda r: r["ours_ore"], "money"),
            Column(
                _("With fees and interest in Tripletex"), lambda r: r["ledger_total_ore"], "money"
            ),
            Column(_("With fees and interest in Kravflyt"), lambda r: r["ours_total_ore"], "money"),
        ]
    if key == "automation":
        return [
            Column(_("Customer"), lambda c: c["name"]),
            Column(_("Claims"), lambda c: c["claims"], "number"),
        ]
    if key == "webhooks":
        return [
            Column(_("Time"), lambda h: h["at"], "time"),
            Column(_("Message"), lambda h: h["message"]),
        ]
    return _claim_ref_columns()  # held, letters, agency


@router.get("/c/{company_id}/export/{listname}.{fmt}")
def export(request: Request, company_id: Id, who: Reader, listname: str, fmt: str) -> Response:
    """A list as CSV or Excel, with the filters of its page: claims, handoff, payments, audit,
    or a worklist section (worklist-SECTION)."""
    if fmt not in FORMATS:
        raise HTTPException(404, _("No such file type"))
    db, today = database(request), _today(request)
    q = request.query_params
    if listname == "claims":
        asked = ClaimQuery.read(request)
        rows: list[Any] = claim_list.claim_list(
            db.uow(company_id, read_only=True),
            asked.filter(),
            today,
            sort=asked.sort,
            descending=asked.desc == "1",
            size=None,
        ).lines
        return download(_("claims"), fmt, claim_columns(), rows)
    if listname == "audit":
        entries, _more = overview.audit_page(
            db.uow(company_id, read_only=True),
            text=q.get("q") or None,
            action=q.get("action") or None,
            page=0,
            size=EXPORT_LIMIT,
        )
        return download(_("log"), fmt, _audit_columns(), entries)
    if listname == "handoff":
        wanted = (q.get("q") or "").strip().casefold()
        lines = [
            (b, i)
            for b in (
                x.as_json() for x in handoff.candidates(db.uow(company_id, read_only=True), today)
            )
            if not wanted or work_pages.matches(b, wanted)
            for i in b["invoices"]
        ]
        return download(_("handoff"), fmt, _handoff_columns(), lines)
    if listname.startswith("worklist-") and listname[9:] in overview.SECTIONS:
        key = listname[9:]
        _w, sections = overview.worklist_sections(
            db.uow(company_id, read_only=True), today, section=key, q=q.get("q") or "", size=1
        )
        found = next(s for s in sections if s.key == key)
        return download(_("worklist") + "-" + key, fmt, section_columns(key), found.items)
    if listname == "payments":
        return download(
            _("payments"),
            fmt,
            _payment_columns(),
            overview.payments_to_match(db.uow(company_id, read_only=True)),
        )
    raise HTTPException(404, _("No such list"))
