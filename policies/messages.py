"""The sentences of the reasons for limitation (H1), the creditor's contact details (H4) and the
creditor's own betalingsoppfordring (E2, E3), in one place, keyed by code; and `said`, which
gives any other reason its msgid where it is written (the engine's, the fees', the interest's
and the letter checks' sentences).

Each is an English msgid of the one message catalogue (adapter/i18n, bokmål in its .po): a
`SaidReason` made by `reason` carries the msgid and its values, so the web app shows it in the
reader's language (bokmål by default), while `Reason.text` stays the English sentence for the
CLI, JSON and logs. `N_` only marks the text for `make messages` (policies import no adapter).
"""

from __future__ import annotations

from datetime import date

from policies.decisions import Reason, SaidReason, said

__all__ = ["MESSAGES", "N_", "reason", "said"]


def N_(msgid: str) -> str:  # the catalogue's marker, as babel.cfg looks for it
    """Mark `msgid` for the catalogue; it is translated when shown."""
    return msgid


MESSAGES = {
    "limitation.barred": N_(
        "the claim is time-barred since %(limitation_date)s (three years from the due date; "
        "reminders do not interrupt the period): it is not dunned or handed off; a person decides"
    ),
    "limitation.barred_renewed": N_(
        "the claim is time-barred since %(limitation_date)s (three years from the debtor's "
        "acknowledgement or a legal step; reminders do not interrupt the period): it is not "
        "dunned or handed off; a person decides"
    ),
    "limitation.stop": N_(
        "the claim becomes time-barred on %(limitation_date)s (three years from the due date; "
        "reminders do not interrupt the period): no automatic letters or hand-off from "
        "%(stop_date)s; hand it off by hand before then, or record the debtor's acknowledgement, "
        "which starts a new period"
    ),
    "limitation.stop_renewed": N_(
        "the claim becomes time-barred on %(limitation_date)s (three years from the debtor's "
        "acknowledgement or a legal step; reminders do not interrupt the period): no automatic "
        "letters or hand-off from %(stop_date)s; hand it off by hand before then, or record the "
        "debtor's acknowledgement, which starts a new period"
    ),
    "limitation.override_needed": N_(
        "a letter by hand needs an explicit override, which is logged"
    ),
    "limitation.overridden": N_(
        "sent by hand despite limitation (time-barred on %(limitation_date)s), by explicit override"
    ),
    "letters.no_contact": N_(
        "no letter is sent: the creditor's contact details are missing (%(missing)s); every "
        "letter must say where the debtor can object"
    ),
    "bo.no_missed_deadline": N_(
        "no fee: the betalingsoppfordring needs a reminder or inkassovarsel with a deadline of at "
        "least 14 days that passed unpaid"
    ),
    "bo.too_early": N_(
        "no fee before %(allowed_date)s: the 14-day deadline (+%(postdager)s postdager) has not "
        "passed"
    ),
    "bo.once_per_pair": N_(
        "no fee: a betalingsoppfordring with a fee followed these fee-bearing letters already"
    ),
}


def reason(rule: str, code: str, **params: date | int | str) -> Reason:
    """The reason `code` with its values: English text, and the msgid and values to show it in
    another language."""
    msgid = MESSAGES[code]
    shown = {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}
    return SaidReason(rule, msgid % shown, msgid, tuple(sorted(shown.items())))
