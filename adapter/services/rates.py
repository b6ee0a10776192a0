"""Dated legal numbers as data an operator adds without a release: the late-payment interest
rate per half-year, the inkassosats (which sets the fee maximum) and the NOK value of the
EUR 40 compensation (FRL § 3a). The packaged tables (policies/rates/data.py) stay the default;
rows added here come on top, installation-wide, each with who added it, when and its source,
and a line in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from adapter.errors import InputError
from adapter.i18n import N_, Message
from adapter.settings import AppSettings
from adapter.store.database import added_rates
from adapter.store.errors import DatabaseUnavailable
from adapter.store.events import Event
from adapter.store.uow import UnitOfWork
from policies.rates import DEFAULT_RATES, KINDS, Rates, half_year_text, table_of, with_entries

# What a sane value is, per kind: (least, most, unit). Interest is Norges Bank's policy rate
# plus 8 points (FRL § 3); the amounts are kroner.
_SANE = {
    "interest": (Decimal("0.01"), Decimal(30), "%"),
    "inkassosats": (Decimal(100), Decimal(5000), "kr"),
    "compensation": (Decimal(100), Decimal(2000), "kr"),
}
# Where each half-year's official figure is published (for warnings and the README).
WHERE_PUBLISHED = {
    "interest": "Lovdata: forskrift om forsinkelsesrente, fixed by the Ministry of Finance "
    "shortly before 1 January and 1 July",
    "inkassosats": "Lovdata: forskrift om inkassosatsen, from 1 January",
    "compensation": "Lovdata: forskrift om kompensasjon etter forsinkelsesrenteloven § 3a "
    "(EUR 40 in NOK), each half-year",
}


def current(uow: UnitOfWork) -> Rates:
    """The packaged tables with every added row, as the engine uses them."""
    return with_entries(tuple(e.entry for e in uow.rates.all()))


def current_rates(uow: UnitOfWork) -> Rates:
    """`current` in a unit of work entered here (a reader's is enough)."""
    with uow:
        return current(uow)


def configured(settings: AppSettings) -> Rates:
    """The rates in force for a command that needs no database otherwise (`kravflyt
    interest`): with the added rows when the configured database exists, else the packaged
    tables (a SQLite file that is not there is not created)."""
    try:
        added = added_rates(settings.database_url)
    except DatabaseUnavailable as exc:
        raise InputError(
            "KRAVFLYT_DATABASE_URL", f"cannot read the added rates: {exc.orig}"
        ) from exc
    return DEFAULT_RATES if added is None else with_entries(tuple(e.entry for e in added))


@dataclass(frozen=True)
class RateWarning:
    """A dated figure the table does not have yet: due soon, or already missing."""

    kind: str
    missing_from: date  # the first day without a known value
    today: date

    @property
    def days_left(self) -> int:
        """Days until the figure is needed (0 or less: it is missing now)."""
        return (self.missing_from - self.today).days

    def message(self) -> Message:
        """What is missing and how to add it, translated when shown."""
        half = half_year_message(self.missing_from)
        command = f"kravflyt rates add --from {self.missing_from.isoformat()} --rate N.NN --source FOR-..."
        last_date = self.missing_from - timedelta(days=1)
        if self.days_left > 0:
            return N_(
                "The late-payment interest rate for %(half)s (from %(from_date)s) is not in the "
                "table yet. When it is published on Lovdata (forskrift om forsinkelsesrente), "
                "add it: %(command)s",
                half=half,
                from_date=self.missing_from,
                command=command,
            )
        return N_(
            "The late-payment interest rate for %(half)s is missing: interest is counted only "
            "to %(last_date)s, and letters stating later interest follow dunning.unknown_rate. "
            "Add it when it is published on Lovdata (forskrift om forsinkelsesrente): "
            "%(command)s",
            half=half,
            last_date=last_date,
            command=command,
        )


def half_year_message(day: date) -> Message:
    """The half-year of `day` in words, translated when shown."""
    if day.month <= 6:
        return N_("the first half of %(year)s", year=str(day.year))
    return N_("the second half of %(year)s", year=str(day.year))


def warnings(rates: Rates, today: date) -> list[RateWarning]:
    """The interest rate the table lacks, from the first day of its last month (1 December,
    1 June): the official figure is published only weeks before it applies."""
    known = rates.interest.known_until
    if known is None or today < known.replace(day=1):
        return []
    return [RateWarning("interest", known + timedelta(days=1), today)]


def listing(uow: UnitOfWork, kind: str | None = None) -> list[dict[str, Any]]:
    """Every row in force, per kind and date, with where it comes from: the packaged table or
    an operator (who, when, and a correction's reason)."""
    with uow:
        added = {(e.kind, e.valid_from): e for e in uow.rates.all()}  # the last row wins
        rates = with_entries(tuple(e.entry for e in added.values()))
    out = []
    for name in KINDS if kind is None else (_kind(kind),):
        for valid_from, value, source in table_of(rates, name).rows:
            entry = added.get((name, valid_from))
            out.append(
                {
                    "kind": name,
                    "from": valid_from,
                    "value": value,
                    "unit": _SANE[name][2],
                    "source": source,
                    "origin": "added" if entry else "packaged",
                    "added_by": entry.added_by if entry else None,
                    "added_at": entry.added_at if entry else None,
                    "reason": entry.reason if entry else None,
                }
            )
    return out


@dataclass(frozen=True)
class Added:
    """What `add` did."""

    kind: str
    valid_from: date
    value: Decimal
    changed: bool  # False: the table already had this value
    replaced: Decimal | None  # a correction's earlier value
    letters_using: int  # letters already sent that used the earlier value


def add(
    uow: UnitOfWork,
    kind: str,
    valid_from: date,
    value: str,
    source: str,
    *,
    actor: str,
    correct: bool = False,
    reason: str | None = None,
) -> Added:
    """Add (or, with `correct` and a reason, correct) the `kind` value from `valid_from`;
    validated whole, and refused with a message naming the option and what was expected."""
    kind = _kind(kind)
    amount = _value(kind, value)
    if valid_from.day != 1 or valid_from.month not in (1, 7):
        raise InputError("--from", f"{valid_from} is not a 1 January or 1 July")
    source = source.strip()
    if not source or len(source) > 200:
        raise InputError("--source", "give where the figure is published (1-200 characters)")
    if correct and not (reason or "").strip():
        raise InputError("--reason", "a correction needs a reason")
    with uow:
        table = table_of(current(uow), kind)
        if valid_from < table.rows[0][0]:
            raise InputError("--from", f"the {kind} table starts {table.rows[0][0]}")
        if kind == "interest" and table.known_until is not None:
            next_day = table.known_until + timedelta(days=1)
            if valid_from > next_day:
                raise InputError(
                    "--from",
                    f"the rate for {half_year_text(next_day)} (from {next_day}) is not in the "
                    "table yet: add the half-years in order",
                )
        old = next((r for r in table.rows if r[0] == valid_from), None)
        used = _letters_using(uow, kind, valid_from, table.rows) if old else 0
        if old is not None and old[1] == amount and not correct:
            return Added(kind, valid_from, amount, False, None, used)
        if old is not None and not correct:
            raise InputError(
                "--from",
                f"the {kind} from {valid_from} is {old[1]} {_SANE[kind][2]} already "
                f"({old[2]}; used on {used} letters): to change it give --correct and --reason",
            )
        if old is None and correct:
            raise InputError("--correct", f"there is no {kind} from {valid_from} to correct")
        uow.rates.add(kind, valid_from, amount, source, by=actor, reason=reason)
        verb = "corrected" if old else "added"
        was = f" (was {old[1]}, used on {used} letters; reason: {reason})" if old else ""
        uow.record(
            Event(
                actor=actor,
                action=f"rates.{'correct' if old else 'add'}",
                subject=("rate", f"{kind}:{valid_from}"),
                message=f"{kind} from {valid_from} {verb}: {amount} {_SANE[kind][2]} ({source}){was}",
                data={
                    "kind": kind,
                    "from": valid_from.isoformat(),
                    "value": str(amount),
                    "source": source,
                    "replaced": str(old[1]) if old else None,
                    "letters_using": used,
                    "reason": reason,
                },
            )
        )
        uow.commit()
    return Added(kind, valid_from, amount, True, old[1] if old else None, used)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError("--kind", f"{kind!r}: expected one of {', '.join(KINDS)}")
    return kind


def _value(kind: str, text: str) -> Decimal:
    least, most, unit = _SANE[kind]
    try:
        amount = Decimal(text.strip().replace(",", "."))
    except InvalidOperation as exc:
        raise InputError("--rate", f"{text!r} is not a number") from exc
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InputError("--rate", f"{text!r}: at most two decimals")
    if not least <= amount <= most:
        raise InputError("--rate", f"{text} {unit} is not a sane {kind} ({least}-{most} {unit})")
    return amount.quantize(Decimal("0.01"))


def _letters_using(uow: UnitOfWork, kind: str, valid_from: date, rows: tuple) -> int:
    """Letters already made (any company) whose amount of `kind` used the row from
    `valid_from` (until the next row of the table, if any)."""
    later = [r[0] for r in rows if r[0] > valid_from]
    return uow.rates.letters_using(kind, valid_from, later[0] if later else None)
