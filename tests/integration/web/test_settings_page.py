"""The settings page built for accountants: grouped by topic, Norwegian labels, check boxes
for yes/no, dropdowns for choices, units beside amounts and days, and an error banner at the
top that links to each refused field with a Norwegian message naming the legal limit."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from adapter.store.tables import company_settings
from tests.integration.web.conftest import sign_in, sign_in_browser


def _stored(db) -> dict:
    with db.engine.connect() as conn:
        return {r.section: r.value for r in conn.execute(select(company_settings))}


def test_settings_are_grouped_with_norwegian_labels_check_boxes_and_dropdowns(client, book) -> None:
    sign_in(client, "ola@regnskap.no")
    page = client.get(f"/c/{book.company_id}/settings").text
    assert "<legend>Purring</legend>" in page and "<legend>Innbetalinger</legend>" in page
    assert ">Gebyr på purring 1<" in page  # not dunning.reminder_1.fee
    assert re.search(
        r'<input type="checkbox" id="s-schedule.enabled" name="schedule.enabled" value="true"[^>]* checked',
        page,
    )
    assert '<select id="s-bank.unknown_kid_policy"' in page
    assert '<option value="voucher_inbox" selected>Vent i arbeidslisten</option>' in page
    assert 'id="s-dunning.reminder_1.fee"' in page and '<span class="unit">kr</span>' in page
    assert '<span class="unit">dager</span>' in page
    assert "dunning.reminder_1.fee<" not in page and "Hvorfor" not in page


def test_every_setting_has_norwegian_words() -> None:
    from adapter import company_settings
    from adapter.web import settings_form

    missing = [
        n for n in company_settings.setting_names() if settings_form.describe(n)[0] == "other"
    ]
    assert missing == [], "give these settings a label in adapter/web/settings_form.py"


def test_a_yes_no_setting_is_a_check_box_that_saves(db, client, book) -> None:
    token = sign_in(client, "ola@regnskap.no")
    url = f"/c/{book.company_id}/settings"
    form = {"csrf": token, "_shown": "schedule.enabled"}  # the box unticked: not in the form
    r = client.post(url, data=form)
    assert r.status_code == 303, r.text[:300]
    assert _stored(db)["schedule"]["enabled"] is False
    after = client.get(r.headers["location"]).text
    assert "Lagret: Kjør planlagte jobber" in after


def test_wrong_values_show_a_banner_at_the_top_linking_to_each_field(db, client, book) -> None:
    token = sign_in(client, "ola@regnskap.no")
    url = f"/c/{book.company_id}/settings"
    r = client.post(
        url,
        data={
            "csrf": token,
            "dunning.reminder_1.fee": "500,00",
            "schedule.sync_every_minutes": "ofte",
            "bank.write_off_limit": "5,00",
        },
    )
    assert r.status_code == 400
    banner = r.text[r.text.index('data-testid="error-banner"') :]
    banner = banner[: banner.index("</div>")]
    assert (
        'href="#s-dunning.reminder_1.fee"' in banner
        and 'href="#s-schedule.sync_every_minutes"' in banner
    )
    assert "høyst 38,00\u00a0kr" in banner  # the legal limit, in Norwegian
    assert "et helt tall" in banner  # not "Input should be a valid integer"
    assert r.text.index('data-testid="error-banner"') < r.text.index(
        '<form method="post" action="/c/'
    )
    assert "Input should be" not in r.text
    assert _stored(db) == {}  # nothing written


@pytest.mark.e2e
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_wrong_setting_shows_the_banner_in_the_browser(book, base_url, browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_browser(page, base_url, "ola@regnskap.no")
    page.goto(f"{base_url}/c/{book.company_id}/settings")
    page.get_by_label("Gebyr på purring 1").fill("500,00")
    page.get_by_role("button", name="Lagre").first.click()
    banner = page.get_by_test_id("error-banner")
    expect(banner).to_be_in_viewport()
    expect(banner).to_contain_text("Gebyr på purring 1")
    banner.get_by_role("link", name="Gebyr på purring 1").click()
    expect(page.get_by_label("Gebyr på purring 1")).to_be_focused()
    expect(page.get_by_label("Gebyr på purring 1")).to_have_value("500,00")
