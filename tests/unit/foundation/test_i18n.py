"""The message catalogue: every marked text has its bokmål, values are shown the Norwegian
way, names sort in Norwegian order, and a stored message is translated when it is shown."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from adapter import i18n
from adapter.domain import Money
from adapter.i18n import N_, Message, _, check
from adapter.i18n.labels import label


def test_every_marked_text_has_its_bokmal() -> None:
    assert check.problems() == []


def test_the_check_names_a_text_without_bokmal(monkeypatch) -> None:
    monkeypatch.setattr(check, "marked", lambda: {"Overview", "A text nobody translated"})
    assert check.problems() == ["not translated to bokmål: 'A text nobody translated'"]


def test_bokmal_is_the_default_and_english_one_switch_away() -> None:
    assert i18n.current() == "nb" and _("Overview") == "Oversikt"
    with i18n.use("en"):
        assert _("Overview") == "Overview"
    with i18n.use("sv"):  # unknown: bokmål
        assert _("Overview") == "Oversikt"


def test_amounts_and_dates_the_norwegian_way() -> None:
    assert i18n.kr(123_450) == "1\u00a0234,50\u00a0kr"
    assert i18n.kr(-3_800, unit=False) == "-38,00"
    assert i18n.kr(123_450, "en") == "NOK 1,234.50"
    assert i18n.day(date(2026, 1, 19)) == "19.01.2026"
    assert i18n.day(date(2026, 1, 19), "en") == "19 Jan 2026"
    # 23:30 UTC on 31 December is 00:30 on 1 January in Oslo
    assert i18n.moment(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)) == "01.01.2026 00:30"


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_a_shown_amount_reads_back_to_the_same_ore(ore: int) -> None:
    assert Money.parse(i18n.kr(ore)).ore == ore


def test_names_sort_in_norwegian_order() -> None:
    names = ["Åse Berg", "ødegård AS", "Zeta AS", "Ærlig AS", "andersen AS", "Øst AS"]
    assert sorted(names, key=i18n.name_key) == [
        "andersen AS",
        "Zeta AS",
        "Ærlig AS",
        "ødegård AS",
        "Øst AS",
        "Åse Berg",
    ]


def test_a_stored_message_is_translated_when_shown_with_its_values() -> None:
    stored = N_("Not due").as_json()
    assert Message.from_json(stored) == Message("Not due", {})
    assert Message.from_json(stored).text("nb") == "Ikke forfalt"  # type: ignore[union-attr]
    assert Message.from_json("plain text") is None
    assert (
        i18n.translate(
            "nb", "%(amount_ore)s on %(due_date)s", amount_ore=3_800, due_date="2026-02-02"
        )
        == "38,00\u00a0kr on 02.02.2026"
    )


def test_code_names_have_words() -> None:
    assert label("action", "eligible_for_handoff") == "klar for inkasso"
    assert label("unmatched_reason", "wrong_kid") == "feil KID: ingen åpen faktura har denne"
    with i18n.use("en"):
        assert label("stage", "soft_reminder") == "payment reminder"
    assert label("stage", "no_such_stage") == "no_such_stage"
