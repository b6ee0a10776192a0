"""Company settings are validated on write with a message naming the setting."""

from __future__ import annotations

import pytest

from adapter import company_settings as cs
from adapter.errors import InputError


def test_defaults() -> None:
    bank = cs.load("bank", None)
    assert bank.model_dump() == {
        "unknown_kid_policy": "voucher_inbox",
        "allocation_order": ("fees", "interest", "principal"),
        "write_off_limit": 1000,
        "payment_type_id": None,
    }


def test_amounts_typed_in_kroner_stored_in_ore() -> None:
    changed = cs.apply_changes({}, ["bank.write_off_limit=9,50"])
    assert changed["bank"].model_dump()["write_off_limit"] == 950
    assert cs.display("bank.write_off_limit", 950) == "9,50 kr"


def test_changes_merge_with_what_is_stored() -> None:
    stored = {"bank": {"unknown_kid_policy": "ignore"}}
    changed = cs.apply_changes(stored, ["bank.payment_type_id=3"])
    assert changed["bank"].model_dump()["unknown_kid_policy"] == "ignore"
    assert changed["bank"].model_dump()["payment_type_id"] == 3


@pytest.mark.parametrize(
    ("assignment", "where", "message"),
    [
        (
            "bank.unknwon_kid_policy=ignore",
            "setting 'bank.unknwon_kid_policy'",
            "did you mean bank.unknown_kid_policy",
        ),
        ("nosuch=1", "setting 'nosuch'", "no such setting"),
        (
            "bank.unknown_kid_policy=sometimes",
            "setting bank.unknown_kid_policy",
            "'voucher_inbox', 'auto_book' or 'ignore'",
        ),
        ("bank.write_off_limit=ti kroner", "setting bank.write_off_limit", "is not an amount"),
        ("bank.write_off_limit=500", "setting bank.write_off_limit", "between 0 and 100,00 kr"),
        ("bank.allocation_order=fees,principal", "setting bank.allocation_order", "once each"),
        ("schedule.dunning_hour=24", "setting schedule.dunning_hour", "less than or equal to 23"),
        ("schedule.dunning_hour", "setting 'schedule.dunning_hour'", "expected name=value"),
        (
            "dunning.fee_halving_due_from=2020-11-01",
            "setting dunning.fee_halving_due_from",
            "2020-10-01 (a claim due that day takes 1/20) or 2020-10-02 (it takes 1/10)",
        ),
        (
            "dunning.limitation_stop_days=120",
            "setting dunning.limitation_stop_days",
            "between 0 and limitation_warn_days, which is at most 1000 days",
        ),
    ],
)
def test_wrong_settings_are_refused_naming_them(assignment: str, where: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        cs.apply_changes({}, [assignment])
    assert err.value.where == where
    assert message in err.value.message


def test_every_setting_is_described() -> None:
    for name, _default, description in cs.describe():
        assert description, f"{name} has no description"


# Issue 26: letter texts take plain {name} placeholders only; texts may be emptied or begin
# with a placeholder; a JSON object where a value belongs is refused by name.


PLAIN = "a placeholder is a plain {name}, e.g. {kunde}: no format spec or conversion"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{kunde:>100000}", f"{{kunde:>100000}}: {PLAIN}"),
        ("Til {kunde:{fakturanr}}", f"{{kunde:{{fakturanr}}}}: {PLAIN}"),
        ("{kunde!r}", f"{{kunde!r}}: {PLAIN}"),
        ("{kunde.__class__}", "unknown placeholder {kunde.__class__}; known: "),
        ("{kunde[0]}", "unknown placeholder {kunde[0]}; known: "),
    ],
)
def test_letter_texts_take_plain_placeholders_only(text: str, message: str) -> None:
    with pytest.raises(InputError) as refused:
        cs.apply_changes({}, [f"dunning.reminder_1.text={text}"])
    assert str(refused.value).startswith(f"setting dunning.reminder_1.text: {message}")


def test_a_letter_text_may_begin_with_a_placeholder_and_be_emptied() -> None:
    changed = cs.apply_changes({}, ["dunning.reminder_1.text={kunde}, betal {belop} innen {frist}"])
    text = changed["dunning"].model_dump()["reminder_1"]["text"]
    assert text == "{kunde}, betal {belop} innen {frist}"
    stored = {"dunning": changed["dunning"].model_dump(mode="json")}
    emptied = cs.apply_changes(stored, ["dunning.reminder_1.text=", "letters.address="])
    assert emptied["dunning"].model_dump()["reminder_1"]["text"] == ""
    assert emptied["letters"].model_dump()["address"] == ""


def test_a_json_object_where_a_number_belongs_is_refused_naming_it() -> None:
    with pytest.raises(InputError) as refused:
        cs.apply_changes({}, ['dunning.reminder_1.days={"a": 1}'])
    assert str(refused.value).startswith("setting dunning.reminder_1.days: ")
