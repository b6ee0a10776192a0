"""Hand-off to the collection agency: candidates bundled per debtor, preview, confirmation.

Candidates come from the policy engine (undisputed, inkassovarsel deadline plus postdager
passed, unpaid, above the minimum, not handed off). All eligible claims of one debtor go
together in one case (G1). An accountant confirms that the claims are not disputed; the
confirmation (who, when) goes into the audit log with the case, and the case is sent through
the outbox. With `dunning.auto_handoff` the same checks run and the system confirms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from stdnum.no import fodselsnummer

from adapter import company_settings
from adapter.domain import ClaimStatus, Money
from adapter.errors import InputError
from adapter.i18n import N_, name_key
from adapter.services import rates
from adapter.services.claim_facts import ClaimRow, company_context, iter_claims
from adapter.store.events import Event, Send
from adapter.store.uow import UnitOfWork
from connectors.kravia.models import (
    HandoffCase,
    HandoffDebtor,
    HandoffInvoice,
    InterestSegment,
    case_to_json,
)
from policies.decisions import Action, Decision
from policies.engine import decide
from policies.facts import ClaimFacts
from policies.ladder import Stage

NOT_CONFIRMED = N_("Tick “The claim is not disputed” to confirm it for the debtors chosen")


@dataclass
class Candidate:
    """One eligible claim with its decision."""

    row: ClaimRow
    facts: ClaimFacts
    decision: Decision

    @property
    def fees_ore(self) -> int:
        """Unpaid fees and compensation (notices)."""
        f = self.facts
        return max(
            0,
            f.fees_charged_ore
            + f.compensation_charged_ore
            - f.fees_paid_ore
            - f.compensation_paid_ore,
        )

    @property
    def interest_ore(self) -> int:
        """Interest to the hand-off date, less what was paid of it."""
        return max(0, self.decision.interest.total_ore - self.facts.interest_paid_ore)


@dataclass
class Bundle:
    """All eligible claims of one debtor."""

    customer_id: int
    customer_name: str
    claims: list[Candidate] = field(default_factory=list)
    # Who the debtor is, so that two debtors of one name are told apart: the customer number,
    # and the organisation number of a business or the birth date of a private person.
    customer_number: str | None = None
    org_number: str | None = None
    birth_date: date | None = None
    private: bool = False

    @property
    def principal_ore(self) -> int:
        """Remaining principal of the bundle."""
        return sum(c.facts.principal_outstanding_ore for c in self.claims)

    @property
    def fees_ore(self) -> int:
        """Unpaid fees of the bundle."""
        return sum(c.fees_ore for c in self.claims)

    @property
    def interest_ore(self) -> int:
        """Interest of the bundle to the hand-off date."""
        return sum(c.interest_ore for c in self.claims)

    @property
    def paid_ore(self) -> int:
        """Partial payments and credit notes already made on the bundle's invoices."""
        return sum(sum(r.amount_ore for r in c.facts.reductions) for c in self.claims)

    def as_json(self) -> dict[str, Any]:
        """The bundle with its summary (amounts in øre)."""
        return {
            "customer_id": self.customer_id,
            "customer": self.customer_name,
            "customer_number": self.customer_number,
            "org_number": self.org_number,
            "birth_date": self.birth_date,
            "private": self.private,
            "invoices": [
                {
                    "invoice": c.row.invoice_number,
                    "invoice_id": c.row.invoice_id,
                    "original_ore": c.facts.amount_ore,
                    "paid_ore": sum(r.amount_ore for r in c.facts.reductions),
                    "principal_ore": c.facts.principal_outstanding_ore,
                    "fees_ore": c.fees_ore,
                    "interest_ore": c.interest_ore,
                    # Interest stops here when the rate from `rate_missing_from` is not
                    # published yet (None: every day is counted).
                    "interest_to": c.decision.interest.to_date,
                    "rate_missing_from": c.decision.interest.unknown_from,
                    "reasons": [r.as_json() for r in c.decision.reasons],
                }
                for c in self.claims
            ],
            "summary": {
                "principal_ore": self.principal_ore,
                "fees_ore": self.fees_ore,
                "interest_ore": self.interest_ore,
                "paid_ore": self.paid_ore,
                "total_ore": self.principal_ore + self.fees_ore + self.interest_ore,
            },
        }


def candidates(uow: UnitOfWork, on: date, *, customer_id: int | None = None) -> list[Bundle]:
    """Every debtor with claims eligible for hand-off on `on`, with those claims."""
    with uow:
        return _bundles(uow, on, customer_id)


def _bundles(uow: UnitOfWork, on: date, customer_id: int | None) -> list[Bundle]:
    """`candidates` in a unit of work already entered."""
    company_id = uow.require_company()
    uow.companies.get(company_id)
    settings = uow.settings.all()
    ctx = company_context(settings, rates.current(uow))
    bundles: dict[int, Bundle] = {}
    for row, facts in iter_claims(
        uow.conn, company_id, settings.get("dunning"), customer_id=customer_id
    ):
        for d in decide(facts, ctx, on):
            if d.action is Action.ELIGIBLE_FOR_HANDOFF:
                bundles.setdefault(
                    row.customer_id, Bundle(row.customer_id, row.customer_name)
                ).claims.append(Candidate(row, facts, d))
    for cid, who in uow.handoff.debtors(list(bundles)).items():
        b = bundles[cid]
        b.customer_number, b.org_number = who["customer_number"], who["org_number"]
        b.private = who["kind"] == "private"
        b.birth_date = birth_date(who["national_id"])
    return sorted(bundles.values(), key=lambda b: (name_key(b.customer_name), b.customer_id))


def birth_date(national_id: str | None) -> date | None:
    """The birth date in a fødselsnummer or D-number (None when it is not a valid one)."""
    if not national_id or not fodselsnummer.is_valid(national_id):
        return None
    return fodselsnummer.get_birth_date(national_id)


def _debtor(uow: UnitOfWork, customer_id: int) -> HandoffDebtor:
    c = uow.customers.get(customer_id)
    return HandoffDebtor(
        name=c.name,
        customer_number=c.customer_number or str(c.id),
        private=c.kind.value == "private",
        organization_number=c.org_number,
        national_id=c.national_id.reveal() if c.national_id else None,
        address_line1=c.address.line1,
        address_line2=c.address.line2,
        postal_code=c.address.postal_code,
        city=c.address.city,
        country=c.address.country,
        email=c.email,
        phone=c.phone,
    )


def build_case(uow: UnitOfWork, bundle: Bundle, on: date, creditor_id: int) -> HandoffCase:
    """The case the agency gets for a bundle (see connectors/kravia/mapping.py for where each goes)."""
    items = []
    varsels = []
    for c in bundle.claims:
        invoice = uow.invoices.get(c.row.invoice_id)
        varsel = c.facts.last(Stage.INKASSOVARSEL)
        if varsel and varsel.deadline:
            varsels.append((varsel.sent_on, varsel.deadline))
        items.append(
            HandoffInvoice(
                reference=f"kravflyt:{uow.require_company()}:{c.row.invoice_id}",
                number=invoice.number,
                invoice_date=invoice.invoice_date,
                due_date=invoice.due_date,
                original_ore=invoice.amount.ore,
                remaining_ore=c.facts.principal_outstanding_ore,
                kid=invoice.kid.value if invoice.kid else None,
                currency=invoice.currency,
                partial_payments=tuple((r.on, r.amount_ore) for r in c.facts.reductions),
                fees_ore=c.fees_ore,
                fee_letters=sum(1 for x in c.facts.letters if x.fee_ore),
                interest_ore=c.interest_ore,
                interest_segments=tuple(
                    InterestSegment(s.start, s.end, str(s.rate), s.amount_ore)
                    for s in c.decision.interest.segments
                ),
                department=invoice.department,
                project=invoice.project,
            )
        )
    latest = max(varsels) if varsels else (None, None)
    return HandoffCase(
        creditor_id,
        _debtor(uow, bundle.customer_id),
        tuple(items),
        on,
        varsel_sent=latest[0],
        varsel_deadline=latest[1],
    )


def confirm(
    uow: UnitOfWork,
    customer_ref: str,
    *,
    not_disputed: bool,
    by: str,
    on: date,
    automatic: bool = False,
) -> int:
    """Hand a debtor's eligible claims to the agency; returns our hand-off case id.

    Refused without the confirmation that the claims are not disputed, and when the debtor has
    no eligible claim. Dunning of the claims stops at once; the case is sent by a worker. The
    debtor's claims are decided and handed off in one transaction."""
    if not not_disputed:
        raise InputError(
            "--not-disputed",
            "confirm that the claims are not disputed (Kravet er ikke omtvistet)",
            said=NOT_CONFIRMED,
        )
    with uow:
        return _confirm(uow, customer_ref, by=by, on=on, automatic=automatic)


def _confirm(uow: UnitOfWork, customer_ref: str, *, by: str, on: date, automatic: bool) -> int:
    company_id = uow.require_company()
    customer = uow.customers.find(customer_ref)
    conn = uow.connections.get("kravia")
    assert customer.id is not None
    bundles = _bundles(uow, on, customer.id)
    if not bundles:
        raise InputError(
            "--debtor",
            f"{customer.name} has no claims eligible for hand-off on {on}",
            said=N_(
                "%(customer)s has no claims ready for collection on %(on_date)s",
                customer=customer.name,
                on_date=on,
            ),
        )
    bundle = bundles[0]
    case = build_case(uow, bundle, on, int(conn.config["creditor_id"]))
    case_id = uow.handoff.add_case(
        customer_id=customer.id,
        confirmed_by=by,
        confirmed_at=uow.clock.now(),
        automatic=automatic,
        snapshot=case_to_json(case),
        principal_ore=bundle.principal_ore,
        fees_ore=bundle.fees_ore,
        interest_ore=bundle.interest_ore,
    )
    for c, item in zip(bundle.claims, case.invoices, strict=True):
        uow.handoff.add_item(
            case_id,
            invoice_id=c.row.invoice_id,
            reference=item.reference,
            principal_ore=item.remaining_ore,
            fees_ore=item.fees_ore,
            interest_ore=item.interest_ore,
        )
        uow.claims.set_status(
            c.row.invoice_id,
            ClaimStatus.HANDED_OFF,
            handed_off_at=uow.clock.now(),
            agency_status="sending",
        )
        uow.record(
            Event(
                actor=by,
                action="handoff.confirm",
                subject=("invoice", c.row.invoice_id),
                rules=c.decision.rules,
                message=f"invoice {c.row.invoice_number} handed to the agency in case {case_id}: principal "
                f"{Money(item.remaining_ore)} kr, fees {Money(item.fees_ore)} kr, interest {Money(item.interest_ore)} kr. "
                f"Confirmed not disputed by {by}{' (automatic hand-off)' if automatic else ''}. {c.decision.explain()}",
                data={"case_id": case_id, "not_disputed": True, "automatic": automatic},
                said=N_(
                    "Invoice %(number)s confirmed not disputed and put in hand-off case %(case)s: principal %(principal_ore)s, fees %(fees_ore)s, interest %(interest_ore)s",
                    number=c.row.invoice_number,
                    case=case_id,
                    principal_ore=item.remaining_ore,
                    fees_ore=item.fees_ore,
                    interest_ore=item.interest_ore,
                ),
            )
        )
    settings = company_settings.effective(
        company_settings.DunningSettings, uow.settings.get("dunning")
    )
    if settings.block_customer_at == "handoff" and not customer.blocked:
        uow.customers.set_fields(
            customer.id, blocked=True, blocked_reason=f"til inkasso (case {case_id}, {on})"
        )
    uow.record(
        Event(
            actor=by,
            action="handoff.case",
            subject=("customer", customer.id),
            message=f"{len(bundle.claims)} claims of {customer.name} bundled in one case ({case_id}): "
            f"principal {Money(bundle.principal_ore)} kr, fees {Money(bundle.fees_ore)} kr, interest {Money(bundle.interest_ore)} kr. "
            f"Confirmed not disputed by {by}{' (automatic hand-off)' if automatic else ''}",
            data={
                "case_id": case_id,
                "not_disputed": True,
                "automatic": automatic,
                **bundle.as_json()["summary"],
            },
            said=N_(
                "%(claims)s claims of %(customer)s confirmed not disputed and put in one hand-off case (%(case)s): principal %(principal_ore)s, fees %(fees_ore)s, interest %(interest_ore)s",
                claims=len(bundle.claims),
                customer=customer.name,
                case=case_id,
                principal_ore=bundle.principal_ore,
                fees_ore=bundle.fees_ore,
                interest_ore=bundle.interest_ore,
            ),
            sends=(
                Send(
                    "kravia.register",
                    idempotency_key=f"kravia:case:{company_id}:{case_id}",
                    payload={"case_id": case_id},
                ),
            ),
            log="hand-off confirmed",
            log_fields={
                "company_id": company_id,
                "case_id": case_id,
                "claims": len(bundle.claims),
                "principal_ore": bundle.principal_ore,
                "automatic": automatic,
            },
        )
    )
    uow.commit()
    return int(case_id)


def handed_off(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every hand-off case of the company with its items and the agency's references."""
    with uow:
        return uow.handoff.cases()
