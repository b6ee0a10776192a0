"""The lists in a real browser (Debian's Chromium through Playwright): three debtors handed off
with one confirmation, the claims list filtered and downloaded as CSV and Excel, the worklist's
sections counted on the first screen, on a laptop and a phone."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select

from adapter.domain import NationalId
from adapter.store.tables import audit_log, handoff_cases
from tests.integration.web.conftest import sign_in_browser
from tests.integration.web.test_worklist_handoff import ready_debtor

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture
def debtors(db, book) -> list[int]:
    """Three more debtors ready for collection, two of them of one name."""
    cid = book.company_id
    return [
        ready_debtor(db, cid, "Andersen Anlegg AS", "30001", 150_000, org_number="974760673"),
        ready_debtor(db, cid, "Andersen Anlegg AS", "30002", 90_000, org_number="923609016"),
        ready_debtor(db, cid, "Kari Nordmann", "30003", 50_000, national_id=NationalId("15108695088")),
    ]  # fmt: skip


def test_bulk_hand_off_of_three_debtors(db, book, debtors, base_url, browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_browser(page, base_url, "kari@regnskap.no")
    page.get_by_role("link", name="Arbeidsliste").first.click()
    # from the worklist to the debtor on the hand-off page
    page.locator("#handoff").get_by_role("link", name="Til inkasso").nth(2).click()
    expect(page).to_have_url(f"{base_url}/c/{book.company_id}/handoff#d{debtors[1]}")
    expect(page.locator(f"#d{debtors[1]}")).to_contain_text("Org.nr. 923609016")
    expect(page.get_by_test_id("bundle")).to_have_count(4)
    for customer in debtors:
        page.locator(f'#d{customer} input[name="customer"]').check()
    page.get_by_label("Kravet er ikke omtvistet").check()
    page.get_by_role("button", name="Send de valgte til inkasso").click()
    expect(page.get_by_role("status")).to_contain_text(
        "3 inkassosaker er laget og venter på at de sendes til inkassobyrået"
    )
    expect(page.get_by_test_id("case")).to_have_count(3)
    expect(page.get_by_test_id("bundle")).to_have_count(1)  # Fjord Bygg AS is left
    with db.engine.connect() as conn:
        cases = conn.execute(select(handoff_cases.c.customer_id)).scalars().all()
        logged = (
            conn.execute(select(audit_log.c.subject_id).where(audit_log.c.action == "handoff.case"))
            .scalars()
            .all()
        )
    assert sorted(cases) == sorted(debtors) and sorted(map(int, logged)) == sorted(debtors)


def test_claims_list_filtered_and_downloaded(book, debtors, base_url, browser, tmp_path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    sign_in_browser(page, base_url, "kari@regnskap.no")
    page.get_by_test_id("all-claims").click()
    expect(page.get_by_test_id("claim-row")).to_have_count(6)
    filters = page.get_by_test_id("claim-filters")
    filters.get_by_label("Utestående fra (kr)").fill("900")
    filters.get_by_label("Trinn").select_option("inkassovarsel")
    filters.get_by_role("button", name="Vis").click()
    expect(page.get_by_test_id("claims-total")).to_have_text("(4)")
    page.get_by_test_id("sort-customer").click()
    names = page.get_by_test_id("claim-row").locator("td:nth-child(2)").all_inner_texts()
    assert names == ["Andersen Anlegg AS", "Andersen Anlegg AS", "Fjord Bygg AS", "Fjord Bygg AS"]

    with page.expect_download() as got:
        page.get_by_test_id("export-csv").click()
    saved = Path(got.value.path())
    assert got.value.suggested_filename == "krav.csv"
    rows = list(csv.reader(io.StringIO(saved.read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["830001", "830002", "501", "502"]
    assert rows[3][7] == "2000,00"

    with page.expect_download() as got:
        page.get_by_test_id("export-xlsx").click()
    assert got.value.suggested_filename == "krav.xlsx"
    sheet = load_workbook(io.BytesIO(Path(got.value.path()).read_bytes())).active
    assert sheet.max_row == 5 and sheet["B2"].value == "Andersen Anlegg AS"


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_the_worklist_shows_every_sections_count_on_the_first_screen(
    book, debtors, base_url, browser, width, height
) -> None:
    page = browser.new_page(viewport={"width": width, "height": height}, is_mobile=width < 500)
    sign_in_browser(page, base_url, "kari@regnskap.no")
    page.goto(f"{base_url}/c/{book.company_id}/worklist")
    counts = page.get_by_test_id("sections").locator("strong")
    expect(counts).to_have_count(13)
    for i in range(13):
        box = counts.nth(i).bounding_box()
        assert box is not None and box["y"] + box["height"] <= height, i
    expect(page.get_by_test_id("summary-handoff")).to_have_text("4")
    expect(page.get_by_test_id("summary-payments")).to_have_text("1")
    # a section filtered: two debtors of one name
    section = page.locator("#handoff")
    section.get_by_placeholder("Filtrer").fill("andersen")
    section.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_test_id("count-handoff")).to_have_text("(2)")
    expect(page.get_by_test_id("handoff-row")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
