"""Who may see and do what: generated from the app's own route table, so a new route is
covered the day it is added."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from adapter.store.tables import audit_log, handoff_cases
from adapter.web.routes import PUBLIC, fill, protected_routes, public_routes
from tests.integration.web.conftest import PASSWORD, csrf_of, sign_in

FILL = {
    "item_id": "1",
    "table": "jobs",
    "stage": "reminder_1",
    "remote": "tripletex",
    "code": "en",
    "listname": "claims",
    "fmt": "csv",
    "decision": "resend",
}


def _url(path: str, company_id: int, record_id: int, number: str = "501") -> str:
    ids = {"company_id": str(company_id), "invoice_id": str(record_id), "number": number}
    ids |= {"customer_id": str(record_id), "payment_id": str(record_id)}
    return fill(path, FILL | ids)


def _basic(email: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()}


def test_only_the_listed_endpoints_are_public(app) -> None:
    public = {p for _m, p in public_routes(app)}
    assert public == PUBLIC  # the API description is for signed-in users (issue 26)


def test_the_route_table_has_the_pages_and_the_api(app) -> None:
    paths = {p for _m, p in protected_routes(app)}
    assert {
        "/c/{company_id}/",
        "/c/{company_id}/handoff",
        "/api/v1/companies/{company_id}/overview",
    } <= paths
    assert len(paths) >= 20


def test_every_route_refuses_a_caller_without_credentials(app, client, book) -> None:
    refused = []
    for method, path in protected_routes(app):
        r = client.request(method, _url(path, book.company_id, book.invoices["501"]))
        expected = 401 if path.startswith("/api/") else 303
        assert r.status_code == expected, (method, path, r.status_code, r.text[:200])
        if expected == 303:
            assert r.headers["location"] == "/login"
        refused.append(f"{method} {path}")
    assert len(refused) >= 25


def test_no_route_shows_another_company_to_a_user_by_session(app, client, book) -> None:
    token = sign_in(client, "ola@regnskap.no")  # admin of Demo AS only
    for method, path in protected_routes(app):
        if "{company_id}" not in path:
            continue
        url = _url(path, book.other_company_id, book.other_invoice_id, "9001")
        r = client.request(method, url, data={"csrf": token} if method == "POST" else None)
        assert r.status_code == 404, (method, url, r.status_code)
        assert "Hemmelig" not in r.text and "9001" not in r.text


def test_no_api_route_shows_another_company_by_basic_auth(app, client, book) -> None:
    for method, path in protected_routes(app):
        if "{company_id}" not in path or not path.startswith("/api/"):
            continue
        url = _url(path, book.other_company_id, book.other_invoice_id, "9001")
        r = client.request(method, url, headers=_basic("kari@regnskap.no"), json={})
        assert r.status_code == 404, (method, url, r.status_code)
    listed = client.get("/api/v1/companies", headers=_basic("kari@regnskap.no")).json()
    assert listed == [{"id": book.company_id, "name": "Demo AS", "role": "accountant"}]


def test_a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    db, client, book
) -> None:
    sign_in(client, "kari@regnskap.no")
    url = f"/c/{book.company_id}/claims/502/dispute"
    for token in (None, "forged"):
        data = {"disputed": "true", "reason": "uenig i beløpet"}
        if token:
            data["csrf"] = token
        r = client.post(url, data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    with db.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(audit_log)
                .where(audit_log.c.action == "claim.dispute")
            ).scalar()
            == 0
        )


def test_the_api_with_a_session_needs_the_csrf_header(client, book) -> None:
    token = sign_in(client, "kari@regnskap.no")
    url = f"/api/v1/companies/{book.company_id}/claims/{book.invoices['502']}/dispute"
    body = {"disputed": True, "reason": "uenig"}
    assert client.post(url, json=body).status_code == 403
    r = client.post(url, json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json() == {
        "invoice": "502",
        "disputed": True,
        "reason": "uenig",
    }


def test_read_only_users_look_but_cannot_change_anything(db, client, book) -> None:
    token = sign_in(client, "lese@regnskap.no")
    page = client.get(f"/c/{book.company_id}/handoff")
    assert page.status_code == 200 and "Fjord Bygg AS" in page.text
    assert "/confirm" not in page.text  # no form to press
    r = client.post(
        f"/c/{book.company_id}/handoff/{book.customer_id}/confirm",
        data={"csrf": token, "not_disputed": "true"},
    )
    assert r.status_code == 403
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(handoff_cases)).scalar() == 0


def test_only_an_admin_changes_settings(client, book) -> None:
    token = sign_in(client, "kari@regnskap.no")
    r = client.post(
        f"/c/{book.company_id}/settings", data={"csrf": token, "bank.write_off_limit": "5,00"}
    )
    assert r.status_code == 403 and "administrator" in r.text


def test_wrong_passwords_lock_the_account_for_a_while(client, book) -> None:
    for _ in range(5):
        token = csrf_of(client.get("/login").text)
        r = client.post(
            "/login", data={"email": "kari@regnskap.no", "password": "feil-passord", "csrf": token}
        )
        assert r.status_code == 401 and "Feil e-post eller passord" in r.text
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login", data={"email": "kari@regnskap.no", "password": PASSWORD, "csrf": token}
    )
    assert r.status_code == 401  # locked, even with the right password


def test_login_needs_the_forms_csrf_token(client, book) -> None:
    client.get("/login")
    r = client.post("/login", data={"email": "kari@regnskap.no", "password": PASSWORD})
    assert r.status_code == 403


def test_logout_ends_the_session(client, book) -> None:
    token = sign_in(client, "kari@regnskap.no")
    assert client.get(f"/c/{book.company_id}/").status_code == 200
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    assert client.get(f"/c/{book.company_id}/").headers["location"] == "/login"


@pytest.mark.parametrize("referer", ["https://evil.example/phish", "//evil.example/x"])
def test_errors_never_redirect_to_another_site(client, book, referer) -> None:
    token = sign_in(client, "kari@regnskap.no")
    r = client.post(  # refused (no reason): back to the page the form came from
        f"/c/{book.company_id}/claims/502/dispute",
        data={"csrf": token, "disputed": "true", "reason": " "},
        headers={"referer": referer},
    )
    assert (
        r.status_code == 303
        and r.headers["location"].startswith("/")
        and "evil" not in r.headers["location"]
    )


def test_every_form_and_api_write_refuses_a_missing_or_wrong_csrf_token(
    db, app, client, book
) -> None:
    sign_in(client, "ola@regnskap.no")  # an admin: only the token can be what is refused
    writes = [(m, p) for m, p in protected_routes(app) if m in ("POST", "PUT", "PATCH", "DELETE")]
    assert len(writes) >= 15
    with db.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    for method, path in writes:
        url = _url(path, book.company_id, book.invoices["502"], "502")
        for token in (None, "wrong-token"):
            if path.startswith("/api/"):
                headers = {"X-CSRF-Token": token} if token else {}
                r = client.request(method, url, json={}, headers=headers)
            else:
                r = client.request(method, url, data={"csrf": token} if token else {})
            assert r.status_code == 403 and "CSRF" in r.text, (method, path, token, r.status_code)
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == before
