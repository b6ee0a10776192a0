"""The append-only audit log: every decision and action, with who, when, which rule and the numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from adapter.clock import Clock
from adapter.store.repositories.bulk import insert_rows
from adapter.store.tables import audit_log

_INSERT = insert(audit_log)


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    company_id: int | None
    at: datetime
    actor: str
    action: str
    subject_type: str | None
    subject_id: str | None
    rules: list[str]
    message: str
    data: dict[str, Any]


class AuditRepository:
    """Writes audit lines in the caller's transaction, so the record and the change go together."""

    def __init__(self, conn: Connection, company_id: int | None, clock: Clock):
        self.conn, self.company_id, self.clock = conn, company_id, clock

    def record(
        self,
        *,
        actor: str,
        action: str,
        message: str,
        subject: tuple[str, object] | None = None,
        rules: Sequence[str] = (),
        data: dict[str, Any] | None = None,
        company_id: int | None = None,
        said: Any = None,
    ) -> None:
        """Append one line. `subject` is (type, id), e.g. ("invoice", 10023). `said` is the
        line for a person (an `adapter.i18n.Message`), kept in `data["said"]` and translated
        when shown; `message` stays the English for logs and the API."""
        self.record_all(
            [
                self.line(
                    actor=actor,
                    action=action,
                    message=message,
                    subject=subject,
                    rules=rules,
                    data=data,
                    company_id=company_id,
                    said=said,
                )
            ]
        )

    def line(
        self,
        *,
        actor: str,
        action: str,
        message: str,
        subject: tuple[str, object] | None = None,
        rules: Sequence[str] = (),
        data: dict[str, Any] | None = None,
        company_id: int | None = None,
        said: Any = None,
    ) -> dict[str, Any]:
        """One line as `record` takes it, for `record_all`."""
        if said is not None:
            data = {**(data or {}), "said": said.as_json()}
        return {
            "company_id": company_id if company_id is not None else self.company_id,
            "at": self.clock.now(),
            "actor": actor,
            "action": action,
            "subject_type": subject[0] if subject else None,
            "subject_id": str(subject[1]) if subject else None,
            "rules": list(rules),
            "message": message,
            "data": data or {},
        }

    def record_all(self, lines: Sequence[dict[str, Any]]) -> None:
        """Append `line`s in one statement, in their order (a statement built once: building
        one per line cost more than writing it)."""
        if lines:
            self.conn.execute(_INSERT, list(lines))

    def record_many(
        self,
        *,
        actor: str,
        action: str,
        lines: Sequence[tuple[tuple[str, object], str, dict[str, Any]]],
    ) -> None:
        """Append many lines of one kind in one statement: (subject, message, data) each."""
        if not lines:
            return
        insert_rows(
            self.conn,
            audit_log,
            ("subject_type", "subject_id", "message", "data"),
            ((subject[0], str(subject[1]), message, data) for subject, message, data in lines),
            same={
                "company_id": self.company_id,
                "at": self.clock.now(),
                "actor": actor,
                "action": action,
                "rules": [],
            },
        )

    def entries(
        self,
        *,
        subject: tuple[str, object] | None = None,
        action: str | None = None,
        text: str | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        """The newest entries first, filtered by subject, action prefix or text in the message."""
        q = select(audit_log).where(audit_log.c.company_id == self.company_id)
        if subject:
            q = q.where(
                audit_log.c.subject_type == subject[0], audit_log.c.subject_id == str(subject[1])
            )
        if action:
            q = q.where(audit_log.c.action.startswith(action))
        if text:
            q = q.where(audit_log.c.message.ilike(f"%{text}%"))
        return self._entries(q.order_by(audit_log.c.id.desc()).limit(limit))

    def search(
        self, *, text: str | None, action: str | None, offset: int = 0, limit: int = 50
    ) -> list[AuditEntry]:
        """The log page's entries, newest first: `text` in the message or the subject's id,
        actions starting with `action`."""
        q = select(audit_log).where(audit_log.c.company_id == self.company_id)
        if text:
            q = q.where(or_(audit_log.c.message.ilike(f"%{text}%"), audit_log.c.subject_id == text))
        if action:
            q = q.where(audit_log.c.action.startswith(action))
        return self._entries(q.order_by(audit_log.c.id.desc()).offset(offset).limit(limit))

    def _entries(self, q: Any) -> list[AuditEntry]:
        rows = self.conn.execute(q)
        return [
            AuditEntry(
                id=r.id,
                company_id=r.company_id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                subject_type=r.subject_type,
                subject_id=r.subject_id,
                rules=list(r.rules or []),
                message=r.message,
                data=dict(r.data or {}),
            )
            for r in rows
        ]
