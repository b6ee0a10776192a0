"""Letters from the store: the view model of a letter, previews, manual follow-up, the print
batch and e-mail delivery."""

from __future__ import annotations

import string
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from stdnum.no import kontonr

from adapter import company_settings
from adapter.errors import InputError, NotFoundError
from adapter.i18n import N_
from adapter.i18n.formats import kr
from adapter.letters import email as mail
from adapter.letters import render, texts
from adapter.letters.model import Letter, Line, Party, Segment
from adapter.services import rates
from adapter.services.claim_facts import ClaimRow, company_context, iter_claims
from adapter.services.context import WorkContext
from adapter.services.dunning import (
    TRIPLETEX_TYPES,
    decision_json,
    mark_letter_sent,
    no_contact_reason,
    queue_letter,
    tripletex_type,
)
from adapter.store.events import Event
from adapter.store.uow import UnitOfWork
from connectors.errors import FatalError, LookupImpossible
from policies.calendar import effective_due
from policies.decisions import Action, Decision, Reason
from policies.engine import Context, interest_until
from policies.facts import ClaimFacts
from policies.interest import Interest, shown_amounts
from policies.ladder import LADDER_STAGES, Stage
from policies.manual import check_manual
from policies.regime import regime_on

# The outbox kinds that carry a letter (payload {letter_id, ...}).
LETTER_KINDS = ("tripletex.reminder", "letter.email")

STEP_STAGE = {
    "inkassovarsel": Stage.INKASSOVARSEL,
    "betalingsoppfordring": Stage.BETALINGSOPPFORDRING,
    "rentenota": Stage.RENTENOTA,
}


def _account(value: str | None) -> str | None:
    return kontonr.format(value) if value and kontonr.is_valid(value) else value


def _fill(text: str, values: dict[str, str]) -> str:
    """The company's text with each plain {name} filled. A format spec or conversion is never
    applied (a text stored before they were refused cannot make a letter slow or fail)."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        return text  # broken braces, stored before the check: shown as written
    return "".join(
        literal + (values.get(name, "") if name is not None else "")
        for literal, name, _spec, _conv in parts
    )


def _facts(uow: UnitOfWork, invoice_id: int) -> tuple[ClaimRow, ClaimFacts]:
    settings = uow.settings.all()
    found = list(
        iter_claims(
            uow.conn,
            uow.require_company(),
            settings.get("dunning"),
            invoice_ids=[invoice_id],
            statuses=("open", "handed_off", "closed"),
        )
    )
    if not found:
        raise NotFoundError(f"invoice id {invoice_id} has no claim")
    return found[0]


def _party(uow: UnitOfWork, customer_id: int) -> Party:
    c = uow.customers.get(customer_id)
    lines = tuple(
        x
        for x in (
            c.address.line1,
            c.address.line2,
            f"{c.address.postal_code} {c.address.city}".strip(),
        )
        if x
    )
    return Party(c.name, lines, c.org_number, c.email, c.phone)


def _creditor(uow: UnitOfWork) -> tuple[Party, company_settings.LetterSettings]:
    company = uow.companies.get(uow.require_company())
    cfg = company_settings.effective(company_settings.LetterSettings, uow.settings.get("letters"))
    lines = tuple(part.strip() for part in cfg.address.split(",") if part.strip())
    return Party(company.name, lines, company.org_number, cfg.email, cfg.phone), cfg


def line_for(
    row: ClaimRow,
    facts: ClaimFacts,
    on: date,
    ctx: Context,
    *,
    fee_ore: int,
    interest: Any,
    uow: UnitOfWork,
) -> Line:
    """One invoice as a letter shows it: principal, fees (earlier unpaid plus this letter's) and interest."""
    invoice = uow.invoices.get(row.invoice_id)
    # Fees and the § 3a compensation stated before and unpaid, kept apart (C10): a payment of
    # either is stored as a fee payment, so it settles the fees first.
    unpaid = max(
        0,
        facts.fees_charged_ore
        + facts.compensation_charged_ore
        - facts.fees_paid_ore
        - facts.compensation_paid_ore,
    )
    fees = max(0, facts.fees_charged_ore - facts.fees_paid_ore - facts.compensation_paid_ore)
    interest_paid = min(facts.interest_paid_ore, interest.total_ore)
    return Line(
        invoice.number,
        invoice.invoice_date,
        invoice.due_date,
        invoice.amount.ore,
        max(0, facts.principal_outstanding_ore),
        kid=invoice.kid.value if invoice.kid else None,
        fees_ore=fees + fee_ore,
        interest_ore=interest.total_ore - interest_paid,
        interest_from=interest.from_date,
        segments=_segments(interest),
        interest_to=interest.to_date,
        rate_missing_from=interest.unknown_from,
        payments=tuple((r.on, r.amount_ore) for r in sorted(facts.reductions)),
        interest_paid_ore=interest_paid,
        compensation_ore=unpaid - fees,
    )


def _segments(interest: Interest) -> tuple[Segment, ...]:
    """The interest periods as a letter shows them: amounts that add up to the total."""
    return tuple(
        Segment(s.start, s.end, s.days, str(s.rate), s.principal_ore, shown)
        for s, shown in zip(interest.segments, shown_amounts(interest.segments), strict=True)
    )


def build_letter(
    uow: UnitOfWork,
    row: ClaimRow,
    facts: ClaimFacts,
    stage: Stage,
    on: date,
    decision: Decision,
    ctx: Context,
    reference: str = "",
) -> Letter:
    """The letter for a decision (or a letter already sent: its stored amounts in `decision`)."""
    creditor, cfg = _creditor(uow)
    ladder = facts.ladder or ctx.ladder
    debtor = _party(uow, row.customer_id)
    if stage is Stage.RENTENOTA:
        invoice = uow.invoices.get(row.invoice_id)
        interest = decision.interest
        lines: tuple[Line, ...] = (
            Line(
                invoice.number,
                invoice.invoice_date,
                invoice.due_date,
                invoice.amount.ore,
                0,
                kid=invoice.kid.value if invoice.kid else None,
                interest_ore=decision.amount_ore,
                interest_from=interest.from_date,
                paid_ore=invoice.amount.ore,
                paid_on=facts.paid_on,
                segments=_segments(interest),
                interest_to=interest.to_date,
                rate_missing_from=interest.unknown_from,
            ),
        )
    else:
        lines = (
            line_for(
                row, facts, on, ctx, fee_ore=decision.fee_ore, interest=decision.interest, uow=uow
            ),
        )
        if ladder.method == "balance_list":
            lines += _other_overdue(uow, row, on, ctx)
    text = ladder.stage(stage).text if stage in LADDER_STAGES else ""
    copy = uow.invoices.pdf(row.invoice_id)
    attachments = (copy,) if copy and ladder.method == "invoice_copy" else ()
    first = lines[0]
    compensation = decision.compensation_ore + sum(x.compensation_ore for x in lines)
    values = {
        "kunde": debtor.name,
        "fakturanr": first.invoice_number,
        "fakturadato": texts.day(first.invoice_date),
        "forfallsdato": texts.day(first.due_date),
        "frist": texts.day(decision.deadline),
        "kid": first.kid or "",
        "kontonr": _account(cfg.bank_account) or "",
        "firma": creditor.name,
        # The same figures as the letter's table (H3): what is owed, not what accrued.
        "belop": kr(sum(x.total_ore for x in lines) + compensation),
        "gebyr": kr(sum(x.fees_ore for x in lines)),
        "renter": kr(sum(x.interest_ore for x in lines)),
    }
    return Letter(
        stage,
        on,
        decision.deadline or on + timedelta(days=14),
        creditor,
        debtor,
        lines,
        _account(cfg.bank_account),
        text=_fill(text, values),
        language=cfg.language,
        compensation_ore=compensation,
        reference=reference,
        method=ladder.method,
        new_act=not regime_on(on, ladder.new_act_from).creditor_sends_inkassovarsel,
        attachments=attachments,
    )


def _other_overdue(uow: UnitOfWork, row: ClaimRow, on: date, ctx: Context) -> tuple[Line, ...]:
    """The customer's other overdue invoices, for a balance list (saldoliste)."""
    settings = uow.settings.all()
    out = []
    for other, facts in iter_claims(
        uow.conn, uow.require_company(), settings.get("dunning"), customer_id=row.customer_id
    ):
        if (
            other.invoice_id == row.invoice_id
            or facts.principal_outstanding_ore <= 0
            or effective_due(facts.due_date) >= on
        ):
            continue
        out.append(
            line_for(
                other, facts, on, ctx, fee_ore=0, interest=interest_until(facts, on, ctx), uow=uow
            )
        )
    return tuple(out)


def preview(uow: UnitOfWork, invoice_number: str, stage: Stage, on: date) -> bytes:
    """The letter of `stage` for an invoice as a PDF, sent or not; nothing is sent or stored
    (a reader's unit of work is enough)."""
    with uow:
        invoice = uow.invoices.by_number(invoice_number)
        assert invoice.id is not None
        row, facts = _facts(uow, invoice.id)
        ctx = company_context(uow.settings.all(), rates.current(uow))
        stored = uow.letters.latest(row.claim_id, stage.value, ("pending", "sent"))
        if stored is not None:
            decision = _stored_decision(stored, facts, ctx)
            letter = build_letter(
                uow,
                row,
                replace(
                    facts, letters=tuple(x for x in facts.letters if x.sent_on < stored.sent_on)
                ),
                stage,
                stored.sent_on,
                decision,
                ctx,
                reference=f"L{stored.id}",
            )
        else:
            step = (
                "reminder"
                if stage in (Stage.SOFT_REMINDER, Stage.REMINDER_1, Stage.REMINDER_2)
                else stage.value
            )
            verdict = check_manual(facts, ctx, step, on, with_fee=False, with_interest=True)
            if not verdict.allowed or verdict.decision is None:
                raise InputError(
                    "--stage",
                    f"no {stage.label} for invoice {invoice_number} on {on}: {verdict.explain()}",
                )
            fee = 0
            if stage is not Stage.SOFT_REMINDER and stage is not Stage.RENTENOTA:
                with_fee = check_manual(facts, ctx, step, on, with_fee=True, with_interest=True)
                fee = with_fee.decision.fee_ore if with_fee.allowed and with_fee.decision else 0
            letter = build_letter(
                uow, row, facts, stage, on, replace(verdict.decision, fee_ore=fee), ctx
            )
    return render.pdf(letter)


def _stored_decision(stored: Any, facts: ClaimFacts, ctx: Context) -> Decision:

    interest = (
        interest_until(facts, stored.interest_to or stored.sent_on, ctx)
        if stored.interest_ore
        else interest_until(facts, stored.sent_on, ctx)
    )
    if not stored.interest_ore:
        from policies.interest import NO_INTEREST

        interest = NO_INTEREST
    elif stored.interest_to and stored.interest_to < stored.sent_on and stored.stage != "rentenota":
        # Stated up to the last day with a published rate: the letter says so again.
        interest = Interest(
            interest.segments,
            interest.from_date,
            interest.to_date,
            stored.interest_to + timedelta(days=1),
        )
    return Decision(
        Action.send(Stage(stored.stage)),
        tuple(Reason(r["rule"], r["text"]) for r in (stored.reasons or [])),
        fee_ore=stored.fee_ore,
        interest=interest,
        compensation_ore=stored.compensation_ore,
        deadline=stored.deadline,
        amount_ore=stored.interest_ore if stored.stage == "rentenota" else 0,
    )


def send_manual(
    uow: UnitOfWork,
    invoice_number: str,
    step: str,
    on: date,
    *,
    with_fee: bool,
    with_interest: bool,
    actor: str,
    override_limitation: bool = False,
) -> int:
    """Manual follow-up of one invoice (seed 000): the legal guards decide; returns the letter id.
    A (nearly) time-barred claim needs `override_limitation`; the audit line says so (H1)."""
    with uow:
        company_id = uow.require_company()
        invoice = uow.invoices.by_number(invoice_number)
        assert invoice.id is not None
        row, facts = _facts(uow, invoice.id)
        settings = uow.settings.all()
        ctx = company_context(settings, rates.current(uow))
        verdict = check_manual(
            facts,
            ctx,
            step,
            on,
            with_fee=with_fee,
            with_interest=with_interest,
            override_limitation=override_limitation,
        )
        if not verdict.allowed or verdict.decision is None:
            when = f"; allowed from {verdict.allowed_from}" if verdict.allowed_from else ""
            raise InputError(
                f"--type {step}",
                f"refused for invoice {invoice_number} on {on}: {verdict.explain()}{when}",
            )
        decision = verdict.decision
        stage = decision.stage or STEP_STAGE[step]
        letter_settings = company_settings.effective(
            company_settings.LetterSettings, settings.get("letters")
        )
        delivery = letter_settings.delivery
        if delivery == "tripletex" and stage not in TRIPLETEX_TYPES:
            delivery = "print"  # Tripletex has no betalingsoppfordring or rentenota reminder type
        missing = letter_settings.model_copy(update={"delivery": delivery}).missing_contact()
        if missing:
            raise InputError(missing.split(" ")[0], no_contact_reason(missing).text)
        if (exists := uow.letters.made_on(row.claim_id, stage.value, on)) is not None:
            raise InputError(
                "--type",
                f"a {stage.label} for invoice {invoice_number} was made on {on} already (letter {exists})",
            )
        # The letter is stored with its own stage's figures; a rentenota states the interest
        # it claims (amount_ore). No compensation is stored for a letter sent by hand.
        letter_id = queue_letter(
            uow,
            row,
            stage,
            decision,
            on,
            delivery=delivery,
            key=f"letter:{company_id}:{row.claim_id}:{stage.value}:manual:{on}",
            actor=actor,
            reasons=[r.as_json() for r in decision.reasons],
            interest_ore=decision.amount_ore
            if stage is Stage.RENTENOTA
            else decision.interest.total_ore,
            compensation_ore=0,
            reminder_type=tripletex_type(stage, on, (facts.ladder or ctx.ladder).new_act_from),
            dispatch="API",
        )
        uow.record(
            Event(
                actor=actor,
                action=f"dunning.manual.{stage.value}",
                subject=("invoice", row.invoice_id),
                rules=decision.rules,
                message=f"{stage.label} for invoice {invoice_number} sent by hand: {decision.explain()}",
                data=decision_json(decision) | {"letter_id": letter_id, "delivery": delivery},
            )
        )
        uow.commit()
    return int(letter_id)


def _letter_view(
    uow: UnitOfWork, letter_id: int, *, sending_on: date | None = None
) -> tuple[Letter, Any]:
    """The stored letter as its PDF shows it. `sending_on`: the day it goes out; when later
    than the day it was decided, the letter is dated that day and its deadline moves on as
    many days, as its send date and deadline do when it is recorded sent
    (`delivery.sent_late`: the law counts the deadline from the day it was sent, INKL § 9 (2)).
    Its amounts stay as decided."""
    stored = uow.letters.get(letter_id)
    if stored is None:
        raise NotFoundError(f"letter {letter_id} not found")
    invoice_id = uow.letters.invoices_of([stored.claim_id])[stored.claim_id].id
    row, facts = _facts(uow, invoice_id)
    ctx = company_context(uow.settings.all(), rates.current(uow))
    earlier = replace(facts, letters=tuple(x for x in facts.letters if x.sent_on < stored.sent_on))
    decision = _stored_decision(stored, facts, ctx)
    waited = max(timedelta(0), (sending_on or stored.sent_on) - stored.sent_on)
    if waited and decision.deadline is not None:
        decision = replace(decision, deadline=decision.deadline + waited)
    letter = build_letter(
        uow,
        row,
        earlier,
        Stage(stored.stage),
        stored.sent_on,
        decision,
        ctx,
        reference=f"L{stored.id}",
    )
    return replace(letter, letter_date=stored.sent_on + waited), stored


def cancel(uow: UnitOfWork, letter_id: int, *, actor: str) -> None:
    """Cancel a letter that was not sent (queued, failed, or unknown and judged not to have
    arrived): its send is stopped, and the ladder decides the claim again on its next run.
    Logged in the audit log."""
    with uow:
        stored = uow.letters.get(letter_id)
        if stored is None:
            raise NotFoundError(f"letter {letter_id} not found")
        if stored.status not in ("pending", "failed", "unknown"):
            raise InputError(
                "LETTER_ID",
                f"letter {letter_id} is {stored.status}: only a letter not sent can be cancelled",
            )
        sending = uow.outbox.of_letter(letter_id, LETTER_KINDS)
        if sending is not None and sending.status in ("sending", "sent"):
            raise InputError(
                "LETTER_ID", f"letter {letter_id} is being sent now: look again in a minute"
            )
        if sending is not None:
            uow.outbox.give_up(sending.id, sending.status, f"letter cancelled by {actor}")
        uow.letters.set_status([letter_id], "cancelled")
        uow.record(
            Event(
                actor=actor,
                action="letter.cancel",
                subject=("letter", letter_id),
                message=f"letter {letter_id} ({stored.stage}, {stored.status}) cancelled: "
                "the ladder decides the claim again",
            )
        )
        uow.commit()


def print_batch(uow: UnitOfWork, *, actor: str) -> tuple[bytes, int]:
    """Every letter waiting to be printed, in one PDF; they are marked sent. Returns (pdf, count)."""
    with uow:
        company_id = uow.require_company()
        ids = uow.letters.waiting_to_print()
        if not ids:
            raise InputError("--company", "no letters are waiting to be printed")
        views = [_letter_view(uow, i)[0] for i in ids]
    # Rendered in no transaction: about 0.4 s a letter, and on SQLite the write lock would be
    # held meanwhile (every other writer waiting, past its busy timeout for a large batch).
    document = render.batch(views)
    with uow:
        if set(ids) - set(uow.letters.waiting_to_print()):
            raise InputError(
                "--company",
                "letters changed while the PDF was made (one was cancelled or sent): run it again",
                said=N_(
                    "letters changed while the PDF was made (one was cancelled or sent): "
                    "run it again"
                ),
            )
        uow.letters.set_status(ids, "sent")
        uow.record(
            Event(
                actor=actor,
                action="letters.print",
                subject=("company", company_id),
                message=f"{len(ids)} letters printed for posting",
                data={"letters": ids},
            )
        )
        uow.commit()
    return document, len(ids)


class EmailSender:
    """`letter.email`: payload {letter_id}. SMTP offers no way to ask whether a message
    arrived, so the sender classes each failure (`adapter.letters.email.send`): refused before
    DATA is not sent and goes again by itself; a connection lost after DATA is unknown and
    waits for a person (`kravflyt outbox retry ID --resend | --mark-sent`, or the worklist)."""

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Render and e-mail the letter."""
        with ctx.db.uow(company_id, read_only=True) as uow:
            letter, stored = _letter_view(
                uow, int(payload["letter_id"]), sending_on=uow.clock.today()
            )
            cfg = company_settings.effective(
                company_settings.LetterSettings, uow.settings.get("letters")
            )
            customer = uow.letters.recipient(stored.claim_id)
            password = (
                uow.connections.get("smtp").secrets.get("password")
                if "smtp" in uow.connections.configured()
                else None
            )
        try:
            mail.check_may_email(
                letter.kind,
                customer_accepts=customer.electronic_consent,
                company_confirms=cfg.debtors_accept_email,
            )
        except InputError as exc:
            raise FatalError(str(exc)) from exc
        if not cfg.smtp_host or not cfg.from_address:
            raise FatalError(
                "letters.smtp_host and letters.from_address must be set to e-mail letters"
            )
        title = texts.TITLES[letter.language][letter.kind]
        first = letter.lines[0].invoice_number
        message = mail.build_message(
            # Where the ledger says overdue notices go (Tripletex's overdueNoticeEmail), if set.
            to=customer.overdue_notice_email or customer.email or "",
            subject=f"{title}: {letter.creditor.name}, faktura {first}",
            body=f"{title} for faktura {first} fra {letter.creditor.name} ligger vedlagt.\n",
            pdf=render.pdf(letter),
            filename=f"{title.split()[0].lower()}-{first}.pdf",
            sender=cfg.from_address,
            message_key=f"letter-{company_id}-{stored.id}",
        )
        mail.send(
            mail.SmtpSettings(
                cfg.smtp_host,
                cfg.smtp_port,
                cfg.smtp_security,
                cfg.smtp_user,
                password,
                cfg.from_address,
            ),
            message,
        )
        return {"message_id": message["Message-ID"]}

    def lookup(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Refuse to guess: SMTP cannot be asked, and the e-mail may have gone."""
        raise LookupImpossible(
            f"letter {payload['letter_id']}: the e-mail may have been sent (the connection "
            "failed after the message was handed over); ask the debtor or check the mail "
            "server's log, then resend it or mark it sent"
        )

    def record(self, uow: UnitOfWork, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Mark the letter sent."""
        mark_letter_sent(uow, int(payload["letter_id"]), result["message_id"])
