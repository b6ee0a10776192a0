"""Tonight's letters: the letters the next nightly dunning run will make, from the same plan
the run carries out (`dunning.plan`), per stage with their amounts; one previewed as the PDF
the run would send; one held back before it goes (the claim's own hold, logged)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from adapter import company_settings
from adapter.errors import InputError, NotFoundError
from adapter.i18n import N_
from adapter.letters import render
from adapter.services import claims, dunning, rates
from adapter.services.claim_facts import company_context, iter_claims
from adapter.services.letters import build_letter
from adapter.store.repositories.tonight import TonightRepository
from adapter.store.uow import UnitOfWork
from policies.decisions import Decision
from policies.engine import decide
from policies.ladder import Stage

PER_PAGE = 100  # letters listed per page (the plan is read whole; the page shows a part)


@dataclass(frozen=True)
class PlannedLetter:
    """One letter the next run will make, with the figures the debtor will read."""

    invoice_number: str
    customer_id: int
    customer: str
    stage: str
    principal_ore: int
    fee_ore: int
    interest_ore: int
    compensation_ore: int
    total_ore: int
    deadline: date | None


@dataclass
class StageTotals:
    """How many letters of a stage, and their amounts together."""

    stage: str
    letters: int = 0
    principal_ore: int = 0
    fee_ore: int = 0
    interest_ore: int = 0
    compensation_ore: int = 0

    def add(self, x: PlannedLetter) -> None:
        """Count one letter."""
        self.letters += 1
        self.principal_ore += x.principal_ore
        self.fee_ore += x.fee_ore
        self.interest_ore += x.interest_ore
        self.compensation_ore += x.compensation_ore


@dataclass
class Tonight:
    """The next run's letters: on which day, per stage (totals), and one page of letters in
    stage order."""

    run_on: date
    stages: list[StageTotals]
    letters: list[PlannedLetter]
    total: int
    page: int
    per_page: int = PER_PAGE
    blocked: str | None = None  # the creditor's contact details missing: no letter goes (H4)

    @property
    def more(self) -> bool:
        """Whether a next page has letters."""
        return (self.page + 1) * self.per_page < self.total


def next_run_on(uow: UnitOfWork) -> date:
    """The day of the next nightly run: today until the scheduler has queued today's run, then
    tomorrow (the run decides as of its own day). Reads in a unit of work entered here."""
    today = uow.clock.today()
    with uow:
        company_id = uow.require_company()
        done = TonightRepository(uow.conn, company_id, uow.clock).run_queued(today.isoformat())
    return today + timedelta(days=1) if done else today


def _letter(number: str, customer_id: int, customer: str, d: Decision) -> PlannedLetter:
    assert d.stage is not None
    return PlannedLetter(
        invoice_number=number,
        customer_id=customer_id,
        customer=customer,
        stage=d.stage.value,
        principal_ore=d.principal_ore,
        fee_ore=d.fee_ore,
        interest_ore=d.interest.total_ore,
        compensation_ore=d.compensation_ore,
        total_ore=d.total_ore,
        deadline=d.deadline,
    )


def tonight(uow: UnitOfWork, page: int = 0, *, per_page: int = PER_PAGE) -> Tonight:
    """The letters the next run will make (the run's own plan, less the letters already made),
    per stage in ladder order, then by invoice number. A reader's unit of work is enough; each
    read enters it in turn."""
    on = next_run_on(uow)
    with uow:
        missing = company_settings.effective(
            company_settings.LetterSettings, uow.settings.get("letters")
        ).missing_contact()
    planned: list[tuple[int, PlannedLetter]] = []
    for row, _facts, decisions in dunning.plan(uow, on):
        planned += [
            (row.claim_id, _letter(row.invoice_number, row.customer_id, row.customer_name, d))
            for d in decisions
            if d.stage is not None
        ]
    with uow:
        made = TonightRepository(uow.conn, uow.require_company(), uow.clock).letters_made(
            {claim_id for claim_id, _x in planned}
        )
    order = {s.value: i for i, s in enumerate(Stage)}
    shown = sorted(
        (x for claim_id, x in planned if (claim_id, x.stage) not in made),
        key=lambda x: (order[x.stage], x.invoice_number.zfill(20)),
    )
    totals: dict[str, StageTotals] = {}
    for x in shown:
        totals.setdefault(x.stage, StageTotals(x.stage)).add(x)
    return Tonight(
        run_on=on,
        stages=list(totals.values()),
        letters=shown[page * per_page : (page + 1) * per_page],
        total=len(shown),
        page=page,
        per_page=per_page,
        blocked=missing,
    )


def preview(uow: UnitOfWork, invoice_number: str) -> bytes:
    """The PDF of the letter the next run will make for this invoice, with the run's own
    decision (nothing is sent or stored; a reader's unit of work is enough)."""
    on = next_run_on(uow)
    with uow:
        try:
            invoice = uow.invoices.by_number(invoice_number)
        except NotFoundError as exc:
            raise InputError(
                "invoice",
                f"no invoice {invoice_number!r}",
                said=N_("Could not find invoice %(number)s", number=invoice_number),
            ) from exc
        assert invoice.id is not None
        settings = uow.settings.all()
        ctx = company_context(settings, rates.current(uow))
        found = list(
            iter_claims(
                uow.conn, uow.require_company(), settings.get("dunning"), invoice_ids=[invoice.id]
            )
        )
        missing = company_settings.effective(
            company_settings.LetterSettings, settings.get("letters")
        ).missing_contact()
        letters = [
            (row, facts, d)
            for row, facts in found
            for d in (
                dunning.without_letters(decide(facts, ctx, on), missing)
                if missing
                else decide(facts, ctx, on)
            )
            if d.stage is not None
        ]
        if not letters:
            raise InputError(
                "invoice",
                f"the next run makes no letter for invoice {invoice_number}",
                said=N_(
                    "The next run makes no letter for invoice %(number)s", number=invoice_number
                ),
            )
        row, facts, d = letters[0]
        assert d.stage is not None
        letter = build_letter(uow, row, facts, d.stage, on, d, ctx)
    return render.pdf(letter)


def hold(uow: UnitOfWork, invoice_number: str, reason: str, *, actor: str) -> None:
    """Hold the invoice's letter back: dunning of the invoice stops (the claim's hold, shown on
    its page and logged) until a person resumes it."""
    if not " ".join(reason.split()):
        raise InputError(
            "reason",
            "say why the letter is held back",
            said=N_("Say why the letter is held back"),
        )
    claims.hold(
        uow,
        invoice_number,
        "stop",
        until=None,
        reason=f"{reason.strip()}",
        actor=actor,
    )
