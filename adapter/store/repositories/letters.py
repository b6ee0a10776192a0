"""One company's letters (`letters` table): the row a letter is written as."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from adapter.store.repositories.base import CompanyScoped
from adapter.store.sql import among
from adapter.store.tables import LETTER_COUNTS, claims, customers, invoices, letters

# Built once: the nightly run writes a batch's letters with one, and reads their stages with
# the other (a statement built per call cost more than running it).
_ADD = insert(letters).returning(letters.c.id, sort_by_parameter_order=True)
_OF_THEM = (
    letters.c.company_id == bindparam("company"),
    letters.c.claim_id.in_(bindparam("claims", expanding=True)),
)
_OF_CLAIMS = select(letters).where(*_OF_THEM)
_STATUSES = select(letters.c.claim_id, letters.c.stage, letters.c.status).where(*_OF_THEM)
# What a letter states (the figures the debtor got), and what places it among its claim's.
FIGURES = ("fee_ore", "interest_ore", "compensation_ore", "deadline")
_FIGURE_COLUMNS = tuple(letters.c[c] for c in ("id", "claim_id", "stage", "sent_on", *FIGURES))


class LetterRepository(CompanyScoped):
    """Reads and writes one company's letters."""

    def add(self, **values: Any) -> int:
        """Store a letter (claim_id, stage, sent_on, deadline, amounts, delivery, status,
        actor, reasons ...) and return its id."""
        return self.add_many([values])[0]

    def add_many(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Store letters (each as `add` takes it, all with the same keys) in one statement;
        their ids in the order given."""
        if not rows:
            return []
        now = self.clock.now()
        return list(
            self.conn.execute(
                _ADD, [{**r, "company_id": self.company_id, "created_at": now} for r in rows]
            ).scalars()
        )

    def of_claims(self, claim_ids: Iterable[int]) -> list[Row[Any]]:
        """Every letter of these claims, whatever its status."""
        ids = list(claim_ids)
        if not ids:
            return []
        return list(self.conn.execute(_OF_CLAIMS, {"company": self.company_id, "claims": ids}))

    def statuses(self, claim_ids: Iterable[int]) -> dict[tuple[int, str], list[str]]:
        """The status of every letter of these claims, by (claim id, stage)."""
        found: dict[tuple[int, str], list[str]] = {}
        ids = list(claim_ids)
        if ids:
            for claim_id, stage, status in self.conn.execute(
                _STATUSES, {"company": self.company_id, "claims": ids}
            ):
                found.setdefault((claim_id, stage), []).append(status)
        return found

    def latest(self, claim_id: int, stage: str, statuses: Sequence[str]) -> Any:
        """The claim's newest letter of `stage` in `statuses` (None when there is none)."""
        return self.conn.execute(
            select(letters)
            .where(
                self._mine,
                letters.c.claim_id == claim_id,
                letters.c.stage == stage,
                letters.c.status.in_(statuses),
            )
            .order_by(letters.c.id.desc())
        ).first()

    def made_on(self, claim_id: int, stage: str, on: date) -> int | None:
        """The id of the claim's letter of `stage` dated `on` (whatever its status), if any."""
        found: int | None = self.conn.execute(
            select(letters.c.id).where(
                self._mine,
                letters.c.claim_id == claim_id,
                letters.c.stage == stage,
                letters.c.sent_on == on,
            )
        ).scalar()
        return found

    def waiting_to_print(self) -> list[int]:
        """The letters for the print batch, oldest first."""
        return list(
            self.conn.execute(
                select(letters.c.id)
                .where(self._mine, letters.c.delivery == "print", letters.c.status == "pending")
                .order_by(letters.c.id)
            ).scalars()
        )

    def set_status(self, ids: Collection[int], status: str) -> None:
        """Give the letters `ids` this status."""
        if ids:
            self.conn.execute(
                update(letters)
                .where(self._mine, letters.c.id.in_(sorted(ids)))
                .values(status=status)
            )

    def recipient(self, claim_id: int) -> Any:
        """Where the claim's letters go by e-mail: the customer's (email, overdue_notice_email,
        electronic_consent)."""
        return self.conn.execute(
            select(
                customers.c.email,
                customers.c.overdue_notice_email,
                customers.c.electronic_consent,
            )
            .join(invoices, invoices.c.customer_id == customers.c.id)
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .where(claims.c.company_id == self.company_id, claims.c.id == claim_id)
        ).one()

    def get(self, letter_id: int) -> Any:
        """A letter's row (None when the company has no such letter)."""
        return next(iter(self.rows([letter_id])), None)

    # ------------------------------------------------------------------ sending

    @property
    def _mine(self) -> Any:
        return letters.c.company_id == self.company_id

    def rows(self, ids: Collection[int]) -> list[Row[Any]]:
        """The letters `ids` (whole rows), in no particular order."""
        if not ids:
            return []
        return list(
            self.conn.execute(
                select(letters).where(
                    self._mine, among(self.conn.dialect, letters.c.id, sorted(ids))
                )
            )
        )

    def figures(self, ids: Collection[int]) -> list[Row[Any]]:
        """The letters `ids`, in no particular order: their id, claim, stage, send date,
        figures (`FIGURES`) and `decided`."""
        if not ids:
            return []
        return list(
            self.conn.execute(
                select(*_FIGURE_COLUMNS, letters.c.decided).where(
                    self._mine, among(self.conn.dialect, letters.c.id, sorted(ids))
                )
            )
        )

    def counting(self, claim_ids: Collection[int]) -> list[Row[Any]]:
        """Every letter of the claims `claim_ids` that counts (`LETTER_COUNTS`: fees,
        deadlines and hand-off follow it): id, claim, stage, send date and figures."""
        if not claim_ids:
            return []
        return list(
            self.conn.execute(
                select(*_FIGURE_COLUMNS).where(
                    self._mine,
                    among(self.conn.dialect, letters.c.claim_id, sorted(claim_ids)),
                    letters.c.status.in_(LETTER_COUNTS),
                )
            )
        )

    def invoices_of(self, claim_ids: Collection[int]) -> dict[int, Any]:
        """The invoice of each claim in `claim_ids`: claim id -> (id, due_date)."""
        if not claim_ids:
            return {}
        return {
            r.claim_id: r
            for r in self.conn.execute(
                select(claims.c.id.label("claim_id"), invoices.c.id, invoices.c.due_date)
                .join(invoices, claims.c.invoice_id == invoices.c.id)
                .where(
                    claims.c.company_id == self.company_id,
                    among(self.conn.dialect, claims.c.id, sorted(claim_ids)),
                )
            )
        }

    def mark_sent(self, remote_ids: Mapping[int, str | None]) -> None:
        """The letters (id -> the remote's id for it) reached the debtor's channel."""
        if not remote_ids:
            return
        self.conn.execute(
            update(letters)
            .where(self._mine, letters.c.id == bindparam("b_id"))
            .values(status="sent", remote_id=bindparam("b_remote"), delivery_error=None),
            [{"b_id": i, "b_remote": r} for i, r in remote_ids.items()],
        )

    def decided_before(self, ids: Collection[int], today: date) -> list[Row[Any]]:
        """Of the letters `ids`, those whose send date is before `today`: (id, sent_on,
        deadline)."""
        if not ids:
            return []
        return list(
            self.conn.execute(
                select(letters.c.id, letters.c.sent_on, letters.c.deadline).where(
                    self._mine,
                    among(self.conn.dialect, letters.c.id, sorted(ids)),
                    letters.c.sent_on < today,
                )
            )
        )

    def set_values(self, changes: Sequence[Mapping[str, Any]]) -> None:
        """Set each change's values on the letter its `id` names (one statement for many
        letters; every change names the same columns)."""
        if not changes:
            return
        columns = [k for k in changes[0] if k != "id"]
        self.conn.execute(
            update(letters)
            .where(self._mine, letters.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in columns}),
            [{"b_id": c["id"], **{f"b_{k}": c[k] for k in columns}} for c in changes],
        )


# The statuses a letter moves between while its send is under way (never out of cancelled).
_OPEN = ("pending", "failed", "unknown")


def follow_send(conn: Connection, letter_id: int, status: str, reason: str | None) -> None:
    """Give a letter its outbox row's new status and reason (a letter out of its send,
    cancelled or sent, keeps its own)."""
    conn.execute(
        update(letters)
        .where(letters.c.id == letter_id, letters.c.status.in_(_OPEN))
        .values(status=status, delivery_error=reason)
    )


def send_date(conn: Connection, letter_id: int) -> Any:
    """A letter's send date and deadline (None: no such letter)."""
    return conn.execute(
        select(letters.c.sent_on, letters.c.deadline).where(letters.c.id == letter_id)
    ).first()


def move_send_date(conn: Connection, letter_id: int, sent_on: date, deadline: date | None) -> None:
    """Set a letter's send date and deadline (it went out later than it was decided)."""
    conn.execute(
        update(letters).where(letters.c.id == letter_id).values(sent_on=sent_on, deadline=deadline)
    )
