"""Letters as Tripletex made them.

`:createReminder` only says include charge / include interest: Tripletex puts its own fee,
interest and term on the letter, from its own settings (tripletex-api.md §5.3). Each reminder
Kravflyt creates is read back, and the letter then holds what the debtor was told (what
Kravflyt decided is kept beside it, in `decided`, when it differs): fee counts, interest and
hand-off amounts follow the letter as sent. Reminders Tripletex sent by itself (its automatic
reminders) are imported as letters "sent by Tripletex" and count in every legal rule like
Kravflyt's own. A letter that breaks a legal rule as sent is flagged (`breaches`) and logged
loudly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from adapter.domain import Money
from adapter.i18n import N_
from adapter.log import get_logger
from adapter.services import rates
from adapter.store.events import Event
from adapter.store.repositories.letters import FIGURES, LETTER_COUNTS
from adapter.store.uow import UnitOfWork
from connectors.tripletex import models
from policies import letter_check
from policies.facts import LetterFact
from policies.ladder import Stage

log = get_logger(__name__)

# Tripletex's reminder types as the ladder's stages; a second REMINDER is purring 2.
_STAGES = {
    "SOFT_REMINDER": Stage.SOFT_REMINDER,
    "REMINDER": Stage.REMINDER_1,
    "NOTICE_OF_DEBT_COLLECTION": Stage.INKASSOVARSEL,
}
_FIGURES = FIGURES


def stage_for(kind: str, stages_before: set[str]) -> Stage | None:
    """The ladder stage of a Tripletex reminder type (None for DEBT_COLLECTION, which is no
    letter of the ladder)."""
    stage = _STAGES.get(kind)
    if stage is Stage.REMINDER_1 and Stage.REMINDER_1.value in stages_before:
        return Stage.REMINDER_2
    return stage


def _fact(row: Any, figures: dict[str, Any]) -> LetterFact:
    return LetterFact(
        Stage(row.stage),
        row.sent_on,
        figures["deadline"],
        figures["fee_ore"],
        figures["interest_ore"],
        figures["compensation_ore"],
    )


def record_told(uow: UnitOfWork, letter_id: int, told: dict[str, Any]) -> None:
    """Store what Tripletex put on our letter (`told`, from `models.Reminder.told`): the letter's
    figures become the debtor's, Kravflyt's decision is kept in `decided` when it differs, and
    legal breaches are flagged."""
    record_told_many(uow, {letter_id: told})


def record_told_many(uow: UnitOfWork, told: Mapping[int, dict[str, Any]]) -> None:
    """`record_told` for many letters (letter id -> told) in a few statements whatever their
    number (a worker records the letters it sent in batches): the letters, their claims'
    invoices and the claims' earlier letters are read once, the letters written in one
    statement. Letters of one claim are taken in the order they were sent, each checked
    against the earlier ones as the debtor got them."""
    repo = uow.letters
    rows = sorted(repo.figures(told), key=lambda r: (r.sent_on, r.id))
    if len(rows) != len(told):
        missing = sorted(set(told) - {r.id for r in rows})
        raise LookupError(f"no letter {missing} in company {uow.require_company()}")
    claim_ids = {r.claim_id for r in rows}
    invoice_of = repo.invoices_of(claim_ids)
    # The claims' counting letters with the figures the debtor got (updated as we go).
    counted: dict[int, dict[int, LetterFact]] = {}
    for r in repo.counting(claim_ids):
        counted.setdefault(r.claim_id, {})[r.id] = _fact(r, {k: getattr(r, k) for k in _FIGURES})
    current = rates.current(uow)
    now = uow.clock.now()
    changes, otherwise = [], []
    for row in rows:
        this = told[row.id]
        figures = {
            "fee_ore": this["fee_ore"],
            "interest_ore": this["interest_ore"],
            "compensation_ore": 0,  # a Tripletex reminder has no field for a § 3a compensation
            "deadline": (
                date.fromisoformat(this["deadline"]) if this.get("deadline") else row.deadline
            ),
        }
        decided = {k: getattr(row, k) for k in _FIGURES}
        differences = {k for k in _FIGURES if figures[k] != decided[k]}
        invoice = invoice_of[row.claim_id]
        of_claim = counted.setdefault(row.claim_id, {})
        fact = _fact(row, figures)
        found = letter_check.breaches(
            fact,
            due_date=invoice.due_date,
            earlier=tuple(
                f
                for i, f in of_claim.items()
                if i != row.id
                and (f.sent_on < row.sent_on or (f.sent_on == row.sent_on and i < row.id))
            ),
            rates=current,
            decided_compensation_ore=decided["compensation_ore"],
        )
        if row.id in of_claim:
            of_claim[row.id] = fact
        changes.append(
            {
                "id": row.id,
                **figures,
                "remote_id": str(this["id"]),
                "decided": (
                    {k: (v.isoformat() if isinstance(v, date) else v) for k, v in decided.items()}
                    if differences
                    else row.decided
                ),
                "told_at": now,
                "breaches": [{"rule": b.rule, "text": b.text} for b in found] or None,
            }
        )
        if differences:
            otherwise.append(_told_otherwise(row, invoice.id, decided, figures, this, differences))
        _flag(uow, invoice.id, Stage(row.stage).label, found)
    repo.set_values(changes)
    for subject, message, data in otherwise:
        uow.record(
            Event(
                actor="tripletex", action="letter.told", subject=subject, message=message, data=data
            )
        )


def _told_otherwise(
    row: Any,
    invoice_id: int,
    decided: dict[str, Any],
    figures: dict[str, Any],
    told: dict[str, Any],
    differences: set[str],
) -> tuple[tuple[str, object], str, dict[str, Any]]:
    """The audit line (subject, message, data) of a letter Tripletex made otherwise than
    Kravflyt decided."""
    stage = Stage(row.stage).label
    message = f"Tripletex put other figures on the {stage} than Kravflyt decided: " + "; ".join(
        _difference(k, decided[k], figures[k]) for k in sorted(differences)
    )
    said = N_(
        "Tripletex put other figures on the %(stage)s than Kravflyt decided: fee "
        "%(fee_ore)s (decided %(decided_fee_ore)s), interest %(interest_ore)s (decided "
        "%(decided_interest_ore)s), compensation %(compensation_ore)s (decided "
        "%(decided_compensation_ore)s), deadline %(deadline_date)s (decided "
        "%(decided_deadline_date)s)",
        stage=row.stage,
        fee_ore=figures["fee_ore"],
        decided_fee_ore=decided["fee_ore"],
        interest_ore=figures["interest_ore"],
        decided_interest_ore=decided["interest_ore"],
        compensation_ore=figures["compensation_ore"],
        decided_compensation_ore=decided["compensation_ore"],
        deadline_date=figures["deadline"],
        decided_deadline_date=decided["deadline"],
    )
    data = {"decided": {k: str(v) for k, v in decided.items()}, "told": told}
    return ("invoice", invoice_id), message, {**data, "said": said.as_json()}


def _difference(key: str, decided: Any, told: Any) -> str:
    if key == "deadline":
        return f"deadline {told} (decided {decided})"
    name = key.removesuffix("_ore")
    return f"{name} {Money(int(told))} kr (decided {Money(int(decided))} kr)"


def _flag(uow: UnitOfWork, invoice_id: int, stage: str, found: list[Any]) -> None:
    if not found:
        return
    text = "; ".join(f"{b.text} ({b.rule})" for b in found)
    log.warning("letter breaks the law as sent", invoice_id=invoice_id, breaches=text)
    uow.record(
        Event(
            actor="tripletex",
            action="letter.breach",
            subject=("invoice", invoice_id),
            rules=[b.rule for b in found],
            message=f"The {stage} as the debtor got it breaks the law: {text}",
        )
    )


def import_reminders(uow: UnitOfWork, page: list[tuple[models.Invoice, int]]) -> int:
    """Tie the reminders on a page of invoices to our letters (reading back what Tripletex put
    on them) or import them as letters sent by Tripletex; returns how many were imported."""
    claim_of = uow.claims.ids_of([iid for _inv, iid in page])
    by_claim: dict[int, list[Any]] = {}
    for r in uow.letters.of_claims(claim_of.values()):
        by_claim.setdefault(r.claim_id, []).append(r)
    imported = 0
    for inv, invoice_id in page:
        claim_id = claim_of.get(invoice_id)
        if claim_id is None:  # a credit note: no claim, no letters
            continue
        known = by_claim.setdefault(claim_id, [])
        for reminder in sorted(inv.reminders, key=lambda r: (r.reminder_date, r.id)):
            imported += _one(uow, claim_id, invoice_id, inv, reminder, known)
    return imported


def _one(
    uow: UnitOfWork,
    claim_id: int,
    invoice_id: int,
    inv: models.Invoice,
    reminder: models.Reminder,
    known: list[Any],
) -> int:
    told = reminder.told()
    mine = next((r for r in known if r.remote_id == str(reminder.id)), None)
    if mine is not None:
        if mine.told_at is None:
            record_told(uow, mine.id, told)
        return 0
    stage = stage_for(
        reminder.type, {r.stage for r in known if r.sent_on <= reminder.reminder_date}
    )
    if stage is None:
        log.info("Tripletex debt collection noted, not a letter", invoice=inv.invoice_number)
        return 0
    ours = next(
        (
            r
            for r in known
            if r.remote_id is None
            and r.origin == "kravflyt"
            and r.delivery == "tripletex"
            and r.sent_on == reminder.reminder_date
            and _STAGES.get(reminder.type) in (Stage(r.stage), _base(Stage(r.stage)))
        ),
        None,
    )
    if ours is not None:  # our :createReminder, before its sender recorded the id
        record_told(uow, ours.id, told)
        known.append(uow.letters.get(ours.id))
        return 0
    letter_id = uow.letters.add(
        claim_id=claim_id,
        stage=stage.value,
        sent_on=reminder.reminder_date,
        deadline=reminder.term_of_payment,
        fee_ore=told["fee_ore"],
        interest_ore=told["interest_ore"],
        interest_to=reminder.reminder_date,
        delivery="tripletex",
        status="sent",
        remote_id=str(reminder.id),
        actor="tripletex",
        origin="tripletex",
        told_at=uow.clock.now(),
        reasons=[
            {"rule": "TRIPLETEX", "text": "sent by Tripletex itself (its own automatic reminders)"}
        ],
    )
    row = uow.letters.get(letter_id)
    found = letter_check.breaches(
        _fact(row, {k: getattr(row, k) for k in _FIGURES}),
        due_date=inv.due_date,
        earlier=tuple(
            _fact(r, {k: getattr(r, k) for k in _FIGURES})
            for r in known
            if r.status in LETTER_COUNTS
        ),
        rates=rates.current(uow),
    )
    if found:
        uow.letters.set_values(
            [{"id": letter_id, "breaches": [{"rule": b.rule, "text": b.text} for b in found]}]
        )
    uow.record(
        Event(
            actor="tripletex",
            action="letter.tripletex",
            subject=("invoice", invoice_id),
            message=f"{stage.label} for invoice {inv.invoice_number} sent by Tripletex itself on "
            f"{reminder.reminder_date}: fee {Money(told['fee_ore'])} kr, interest "
            f"{Money(told['interest_ore'])} kr, deadline {reminder.term_of_payment}",
            data=told,
        )
    )
    _flag(uow, invoice_id, stage.label, found)
    known.append(row)
    return 1


def _base(stage: Stage) -> Stage:
    return Stage.REMINDER_1 if stage is Stage.REMINDER_2 else stage
