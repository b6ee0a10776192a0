"""The claims list (filters, sorting in Norwegian order, paging) and the export of the lists as
CSV for Norwegian Excel and as .xlsx, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from adapter.domain import Customer, DebtorKind, Invoice, Money
from adapter.services import claim_list
from adapter.services.claim_list import ClaimFilter
from tests.integration.web.conftest import sign_in

TODAY = date(2026, 3, 20)


@pytest.fixture
def debtors(db, book) -> dict[str, int]:
    """Four more debtors, one invoice each, none dunned yet: names that sort differently in
    Norwegian (Aasen, Ærlig, Ødegård, Åse) than by code point."""
    ids = {}
    with db.uow(book.company_id) as uow:
        for name, number, ore, due in (
            ("Åse Berg", "7002", 40_000, date(2026, 3, 1)),
            ("Ødegård AS", "7001", 30_000, date(2026, 2, 1)),
            ("Aasen AS", "7003", 50_000, date(2026, 3, 19)),
            ("Ærlig AS", "7004", 60_000, date(2026, 4, 30)),
        ):
            c = uow.customers.add(
                Customer(None, book.company_id, name, DebtorKind.BUSINESS, customer_number=number)
            )
            inv = uow.invoices.add(
                Invoice(
                    None,
                    book.company_id,
                    c.id,
                    number,
                    date(2026, 1, 10),
                    due,
                    Money(ore),
                    Money(ore),
                )
            )
            ids[number] = inv.id
        uow.commit()
    return ids


def _numbers(html: str) -> list[str]:
    """The invoice numbers of the list's rows, in order."""
    rows = html.split('data-testid="claim-row"')[1:]
    return [re.search(r'/claims/([^"]+)"', r).group(1) for r in rows]


def _customers(html: str) -> list[str]:
    rows = html.split('data-testid="claim-row"')[1:]
    return [re.search(r'/customers/\d+">([^<]+)<', r).group(1) for r in rows]


def test_the_claims_list_sorts_names_in_norwegian_order(client, book, debtors) -> None:
    sign_in(client, "kari@regnskap.no")
    url = f"/c/{book.company_id}/claims"
    page = client.get(url, params={"sort": "customer"})
    assert page.status_code == 200
    assert _customers(page.text) == [
        "Aasen AS",
        "Fjord Bygg AS",
        "Fjord Bygg AS",
        "Fjord Bygg AS",
        "Ærlig AS",
        "Ødegård AS",
        "Åse Berg",
    ]
    assert _customers(client.get(url, params={"sort": "customer", "desc": "1"}).text)[:3] == [
        "Åse Berg",
        "Ødegård AS",
        "Ærlig AS",
    ]
    # invoice numbers as numbers (502 before 7001), amounts, due dates, stages
    assert _numbers(client.get(url, params={"sort": "number"}).text) == [
        "501", "502", "503", "7001", "7002", "7003", "7004",
    ]  # fmt: skip
    # outstanding: 501 2 000,00; 502 1 250,50; 503 800,00; 7004 600,00; 7003 500,00 ...
    assert _numbers(client.get(url, params={"sort": "amount", "desc": "1"}).text)[:4] == [
        "501", "502", "503", "7004",
    ]  # fmt: skip
    assert _numbers(client.get(url).text) == [  # by due date, the default
        "501", "502", "7001", "7002", "7003", "503", "7004",
    ]  # fmt: skip
    by_stage = _numbers(client.get(url, params={"sort": "stage", "desc": "1"}).text)
    assert by_stage[:2] == ["502", "501"]  # the inkassovarsel first, then no letter yet
    assert "1\u00a0250,50\u00a0kr" in page.text and "15.01.2026" in page.text


def test_the_claims_list_filters(client, book, debtors) -> None:
    token = sign_in(client, "ola@regnskap.no")
    cid = book.company_id
    url = f"/c/{cid}/claims"

    def listed(**params: str) -> list[str]:
        r = client.get(url, params={"sort": "number", **params})
        assert r.status_code == 200, (params, r.text[:300])
        return _numbers(r.text)

    assert listed(stage="inkassovarsel") == ["501", "502"]
    assert listed(stage="none") == ["503", "7001", "7002", "7003", "7004"]
    assert listed(overdue="30") == ["501", "502", "7001"]  # due on or before 18.02.2026
    assert listed(overdue="1") == ["501", "502", "7001", "7002", "7003"]
    assert listed(amount_from="1 000") == ["501", "502"]
    assert listed(amount_from="500", amount_to="800,00") == ["503", "7003", "7004"]
    assert listed(disputed="yes") == [] and listed(held="yes") == []
    client.post(
        f"/c/{cid}/claims/503/dispute",
        data={"csrf": token, "disputed": "true", "reason": "varene kom aldri"},
    )
    client.post(
        f"/c/{cid}/claims/7001/hold",
        data={"csrf": token, "action": "postpone", "until": "2026-04-01", "reason": "avtale"},
    )
    client.post(
        f"/c/{cid}/claims/7002/hold", data={"csrf": token, "action": "stop", "reason": "dødsbo"}
    )
    assert listed(disputed="yes") == ["503"]
    assert listed(held="yes") == ["7001", "7002"]
    assert listed(held="no", disputed="no") == ["501", "502", "7003", "7004"]
    assert listed(at_agency="yes") == []
    client.post(f"/c/{cid}/handoff/{book.customer_id}/confirm", data={"csrf": token, "not_disputed": "true"})  # fmt: skip
    assert listed(at_agency="yes") == ["501", "502"]
    assert listed(at_agency="no", overdue="1") == ["7001", "7002", "7003"]

    wrong = client.get(url, params={"amount_from": "mange", "overdue": "lenge"})
    assert wrong.status_code == 200 and 'role="alert"' in wrong.text  # the banner on top
    assert "Skriv et beløp i kroner" in wrong.text and "Skriv et antall dager" in wrong.text
    assert 'value="mange"' in wrong.text  # shown back as typed


def test_the_claims_list_pages(db, book, debtors) -> None:
    everything = ClaimFilter()
    first = claim_list.claim_list(
        db.uow(book.company_id, read_only=True), everything, TODAY, sort="number", size=3
    )
    third = claim_list.claim_list(
        db.uow(book.company_id, read_only=True), everything, TODAY, sort="number", page=2, size=3
    )
    assert first.total == 7 and first.pages == 3 and first.more
    assert [x.number for x in first.lines] == ["501", "502", "503"]
    assert [x.number for x in third.lines] == ["7004"] and not third.more
    by_name = claim_list.claim_list(
        db.uow(book.company_id, read_only=True), everything, TODAY, sort="customer", page=1, size=3
    )
    assert [x.customer for x in by_name.lines] == ["Fjord Bygg AS", "Ærlig AS", "Ødegård AS"]


def test_the_claims_list_is_linked_from_the_menu_and_the_overview(client, book) -> None:
    sign_in(client, "lese@regnskap.no")
    page = client.get(f"/c/{book.company_id}/").text
    assert f'href="/c/{book.company_id}/claims"' in page
    assert 'data-testid="all-claims"' in page


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text[:300]
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def test_the_claims_list_exports_csv_for_norwegian_excel(client, book, debtors) -> None:
    sign_in(client, "kari@regnskap.no")
    r = client.get(
        f"/c/{book.company_id}/export/claims.csv",
        params={"stage": "inkassovarsel", "sort": "number"},
    )
    assert r.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="krav.csv"' in r.headers["content-disposition"]
    rows = _csv(r)
    assert rows[0][:9] == [
        "Faktura",
        "Kunde",
        "Kundenummer",
        "Fakturadato",
        "Forfall",
        "Dager over forfall",
        "Beløp",
        "Utestående",
        "Trinn",
    ]
    assert rows[1][:9] == [
        "501", "Fjord Bygg AS", "10024", "01.01.2026", "15.01.2026", "64", "5000,00", "2000,00",
        "inkassovarsel",
    ]  # fmt: skip
    assert rows[2][6:8] == ["1250,50", "1250,50"] and len(rows) == 3


def test_the_claims_list_exports_excel_with_numbers_and_dates(client, book, debtors) -> None:
    sign_in(client, "kari@regnskap.no")
    r = client.get(f"/c/{book.company_id}/export/claims.xlsx", params={"sort": "customer"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert [c.value for c in sheet[1]][:8] == [
        "Faktura",
        "Kunde",
        "Kundenummer",
        "Fakturadato",
        "Forfall",
        "Dager over forfall",
        "Beløp",
        "Utestående",
    ]
    names = [row[1].value for row in sheet.iter_rows(min_row=2)]
    assert names[0] == "Aasen AS" and names[-3:] == ["Ærlig AS", "Ødegård AS", "Åse Berg"]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "502")
    assert Decimal(str(row[6].value)) == Decimal("1250.50")
    assert row[6].number_format == "#,##0.00"
    assert row[4].value == datetime(2026, 1, 15) and row[4].number_format == "DD.MM.YYYY"
    assert row[5].value == 64


def test_audit_and_payments_export(client, book) -> None:
    token = sign_in(client, "ola@regnskap.no")
    cid = book.company_id
    client.post(
        f"/c/{cid}/claims/503/dispute",
        data={"csrf": token, "disputed": "true", "reason": "varene kom aldri"},
    )
    rows = _csv(client.get(f"/c/{cid}/export/audit.csv", params={"q": "503"}))
    assert rows[0] == ["Tidspunkt", "Hvem", "Hva", "Melding", "Regel"]
    assert len(rows) == 2 and "varene kom aldri" in rows[1][3]
    assert re.fullmatch(r"20\.03\.2026 \d\d:\d\d", rows[1][0])
    paid = _csv(client.get(f"/c/{cid}/export/payments.csv"))
    assert paid[0][:3] == ["Dato", "Beløp", "Valuta"]
    assert paid[1][:2] == ["19.03.2026", "1250,50"] and "faktura 502" in paid[1]
    assert client.get(f"/c/{cid}/export/claims.pdf").status_code == 404
    assert client.get(f"/c/{cid}/export/nothing.csv").status_code == 404


def test_every_list_page_links_its_exports(client, book) -> None:
    sign_in(client, "kari@regnskap.no")
    cid = book.company_id
    for page, link in (
        ("claims", "/export/claims.csv"),
        ("handoff", "/export/handoff.xlsx"),
        ("payments", "/export/payments.csv"),
        ("audit", "/export/audit.xlsx"),
        ("worklist", "/export/worklist-payments.csv"),
    ):
        assert f'href="/c/{cid}{link}' in client.get(f"/c/{cid}/{page}").text, page
