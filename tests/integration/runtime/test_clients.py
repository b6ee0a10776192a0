"""The clients a worker keeps per company (adapter/services/clients.py): an entry past its
few minutes is checked against the stored connection, kept (its session and connections
reused) when the connection is the same, and replaced when it changed; a replaced client is
closed once no request can still be using it, so a long-running worker does not leak a pool
of connections every few minutes (issue 25)."""

from __future__ import annotations

from adapter.services.clients import Clients

CONFIG = {"base_url": "http://127.0.0.1:9/v2", "client_company_id": 7}


def connect(db, company_id: int, employee_token: str) -> None:
    with db.uow(company_id) as uow:
        uow.connections.put(
            "tripletex",
            CONFIG,
            {"consumer_token": "consumer", "employee_token": employee_token},
            checked=True,
        )
        uow.commit()


def test_an_expired_client_of_an_unchanged_connection_is_kept(db, company_id) -> None:
    connect(db, company_id, "employee-1")
    clients = Clients(db, ttl_s=0.0)
    first = clients.tripletex(company_id)
    again = clients.tripletex(company_id)
    assert again is first
    assert not first.http.is_closed


def test_a_replaced_client_is_closed_after_its_grace(db, company_id) -> None:
    connect(db, company_id, "employee-1")
    clients = Clients(db, ttl_s=0.0)
    first = clients.tripletex(company_id)
    connect(db, company_id, "employee-2")
    second = clients.tripletex(company_id)
    assert second is not first
    assert second.credentials.employee_token == "employee-2"
    assert clients.tripletex(company_id) is second  # the next look closes the retired one
    assert first.http.is_closed
    assert not second.http.is_closed
    clients.close()
    assert second.http.is_closed
