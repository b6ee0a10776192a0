"""`insert_rows` stores exactly what SQLAlchemy's own insert stores, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select

from adapter.store.database import Database
from adapter.store.repositories import bulk
from adapter.store.repositories.bulk import insert_rows
from adapter.store.tables import audit_log, payments

AT = datetime(2026, 3, 2, 8, 15, 30, 123456, tzinfo=UTC)


def _payment(key: str, amount: int, **kw: Any) -> dict[str, Any]:
    return {
        "natural_key": key,
        "source": "tripletex",
        "amount_ore": amount,
        "payment_date": date(2026, 2, 27),
        "kid": None,
        "status": "matched",
        **kw,
    }


def _stored(db: Database, company_id: int, table: Any, order: Any) -> list[dict[str, Any]]:
    with db.uow(company_id, read_only=True) as uow:
        rows = uow.conn.execute(select(table).order_by(order))
        return [{k: v for k, v in r._mapping.items() if k != "id"} for r in rows]


def test_rows_read_back_as_sqlalchemy_stores_them(db: Database, company_id: int) -> None:
    line = {
        "subject_type": "invoice",
        "subject_id": "17",
        "message": "payment of 12,50 kr recorded",
        "data": {"posting": "9", "amount_ore": 1250, "note": None},
    }
    same = {"company_id": company_id, "at": AT, "actor": "tripletex", "action": "x", "rules": []}
    with db.uow(company_id) as uow:
        uow.conn.execute(insert(audit_log).values(**line, **same))
        insert_rows(uow.conn, audit_log, tuple(line), [tuple(line.values())], same=same)
        uow.conn.execute(
            insert(payments).values(
                **_payment("a", 9_007_199_254_740_993, kid="100230004572"),
                company_id=company_id,
                is_credit_note=False,
                created_at=AT,
            )
        )
        row = _payment("b", 9_007_199_254_740_993, kid="100230004572")
        insert_rows(
            uow.conn,
            payments,
            tuple(row),
            [tuple(row.values())],
            same={"company_id": company_id, "is_credit_note": False, "created_at": AT},
        )
        uow.commit()
    first, second = _stored(db, company_id, audit_log, audit_log.c.id)
    assert first == second
    assert second["data"] == line["data"] and second["at"] == AT
    paid = _stored(db, company_id, payments, payments.c.natural_key)
    assert {**paid[0], "natural_key": "b"} == paid[1]


def test_conflicts_update_or_skip_and_many_rows_go_in_chunks(
    db: Database, company_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "_MAX_PARAMS", 40)  # a few rows a statement: many statements
    columns = tuple(_payment("k", 0))
    same = {"company_id": company_id, "is_credit_note": False, "created_at": AT}
    with db.uow(company_id) as uow:
        rows = [tuple(_payment(f"k{i:03}", i).values()) for i in range(25)]
        insert_rows(uow.conn, payments, columns, rows, same=same)
        changed = [tuple(_payment(f"k{i:03}", -i).values()) for i in (3, 30)]
        insert_rows(
            uow.conn, payments, columns, changed, same=same, key=("company_id", "natural_key")
        )
        again = [tuple(_payment(f"k{i:03}", 999).values()) for i in (4, 31)]
        insert_rows(
            uow.conn,
            payments,
            columns,
            again,
            same=same,
            key=("company_id", "natural_key"),
            update=("amount_ore",),
        )
        insert_rows(uow.conn, payments, columns, [], same=same)  # nothing to do
        uow.commit()
    amounts = {
        r["natural_key"]: r["amount_ore"]
        for r in _stored(db, company_id, payments, payments.c.natural_key)
    }
    expected = {f"k{i:03}": i for i in range(25)} | {"k030": -30, "k004": 999, "k031": 999}
    assert amounts == expected


def test_returning_answers_for_rows_written_and_not_for_skipped_ones(
    db: Database, company_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "_MAX_PARAMS", 40)  # the answers of every chunk come back
    columns = tuple(_payment("k", 0))
    same = {"company_id": company_id, "is_credit_note": False, "created_at": AT}
    key = ("company_id", "natural_key")
    with db.uow(company_id) as uow:
        first = insert_rows(
            uow.conn,
            payments,
            columns,
            [tuple(_payment(f"r{i:02}", i).values()) for i in range(12)],
            same=same,
            key=key,
            returning=("natural_key", "id"),
        )
        again = insert_rows(
            uow.conn,
            payments,
            columns,
            [tuple(_payment(f"r{i:02}", i).values()) for i in (3, 12)],
            same=same,
            key=key,
            returning=("natural_key", "id"),
        )
        ids = {r.natural_key: r.id for r in uow.conn.execute(select(payments))}
        uow.commit()
    assert dict(first) == {k: v for k, v in ids.items() if k != "r12"}
    assert dict(again) == {"r12": ids["r12"]}  # r03 was there: skipped, not answered


def test_dates_are_stored_as_sqlalchemy_formats_them(db: Database, company_id: int) -> None:
    # Years below 1000 are zero-padded by both, as every other date.
    days = [date(5, 1, 2), date(2026, 3, 2)]
    columns = tuple(_payment("k", 0))
    same = {"company_id": company_id, "is_credit_note": False, "created_at": AT}
    with db.uow(company_id) as uow:
        for i, day in enumerate(days):
            uow.conn.execute(
                insert(payments).values(**_payment(f"a{i}", 1, payment_date=day), **same)
            )
        insert_rows(
            uow.conn,
            payments,
            columns,
            [tuple(_payment(f"b{i}", 1, payment_date=day).values()) for i, day in enumerate(days)],
            same=same,
        )
        raw = {
            r.natural_key: r.payment_date
            for r in uow.conn.exec_driver_sql(
                "SELECT natural_key, CAST(payment_date AS TEXT) AS payment_date FROM payments"
            )
        }
        uow.commit()
    assert [raw[f"a{i}"] for i in range(2)] == [raw[f"b{i}"] for i in range(2)]
