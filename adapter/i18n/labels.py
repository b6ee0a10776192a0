"""Words for the code names the store and the rules use (statuses, stages, decisions,
reasons), so that a person never reads `eligible_for_handoff` or `wrong_kid`.

`label(kind, code)` gives the words in the current language; a code with no words is shown
as it is, and the pages' test fails on it (tests/integration/web/test_words.py)."""

from __future__ import annotations

from adapter.i18n.catalogue import N_, Message, current

LABELS: dict[str, dict[str, Message]] = {
    # policies.ladder.Stage and policies.manual.STEPS
    "stage": {
        "soft_reminder": N_("payment reminder"),
        "reminder_1": N_("reminder 1"),
        "reminder_2": N_("reminder 2"),
        "reminder": N_("reminder"),
        "inkassovarsel": N_("debt collection notice"),
        "betalingsoppfordring": N_("demand for payment"),
        "rentenota": N_("interest note"),
        "handoff": N_("hand-off to collection"),
    },
    # policies.decisions.Action
    "action": {
        "nothing": N_("nothing to do"),
        "send_soft_reminder": N_("send payment reminder"),
        "send_reminder_1": N_("send reminder 1"),
        "send_reminder_2": N_("send reminder 2"),
        "send_inkassovarsel": N_("send debt collection notice"),
        "send_betalingsoppfordring": N_("send demand for payment"),
        "send_rentenota": N_("send interest note"),
        "charge_b2b_compensation": N_("charge the compensation for collection costs"),
        "block_customer": N_("block the customer"),
        "eligible_for_handoff": N_("ready for collection"),
        "write_off_residual": N_("write off the small residual"),
        "close": N_("close the claim"),
    },
    # adapter.domain.ClaimStatus
    "claim_status": {
        "open": N_("open"),
        "handed_off": N_("at the collection agency"),
        "closed": N_("closed"),
    },
    # adapter.domain.MatchStatus
    "payment_status": {
        "matched": N_("matched"),
        "unmatched": N_("not matched"),
        "on_account": N_("booked on the customer"),
        "ignored": N_("ignored"),
    },
    # the reasons bank import gives for a payment it could not match
    "unmatched_reason": {
        "wrong_kid": N_("wrong KID: no open invoice has it"),
        "missing_kid": N_("no KID and no message"),
        "message": N_("paid with a message instead of a KID"),
        "credit_note": N_("contains a credit note"),
        "currency": N_("paid in another currency than the invoice"),
        "reversal": N_("a reversal of an earlier payment"),
        "unmatched_by_hand": N_("unmatched by hand"),
    },
    # outbox and job rows
    "send_status": {
        "pending": N_("queued"),
        "todo": N_("queued"),
        "doing": N_("being sent"),
        "sending": N_("being sent"),
        "sent": N_("sent"),
        "done": N_("done"),
        "failed": N_("failed"),
        "dead": N_("stopped"),
        "unknown": N_("outcome unknown, being checked"),
    },
    "debtor_kind": {"private": N_("private person"), "business": N_("business")},
}


def label(kind: str, code: object) -> str:
    """The words for `code` of `kind` in the current language (the code itself when it has
    none: the pages' test looks for those)."""
    if code is None or code == "":
        return ""
    key = getattr(code, "value", code)
    found = LABELS.get(kind, {}).get(str(key))
    return found.text(current()) if found else str(key)
