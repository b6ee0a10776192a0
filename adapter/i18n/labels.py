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
        "reference_not_kid": N_("paid with a reference that is not a KID (RF, QR or other)"),
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
    # adapter.domain.AllocationKind: what part of a claim a payment settled
    "allocation": {
        "principal": N_("paid on the principal"),
        "fee": N_("paid on the fees"),
        "interest": N_("paid on the interest"),
        "credit": N_("overpaid: credit on the customer"),
        "write_off": N_("residual written off"),
    },
    # hand-off cases (handoff_cases.status)
    "case_status": {
        "pending": N_("waits for the worker that sends it to the agency"),
        "queued": N_("waits for the worker that sends it to the agency"),
        "sent": N_("registered at the agency"),
        "failed": N_("sending failed"),
        "closed": N_("closed"),
        "paid": N_("paid"),
    },
    # what happened to a claim, as the timeline and the audit log name it
    "event": {
        "invoice": N_("Invoice"),
        "agency.settlement": N_("Settlement from the agency"),
        "agency.settlement_unread": N_("Settlement from the agency not read"),
        "bank.import": N_("Bank file read"),
        "bank.reject": N_("Bank file refused"),
        "claim.close": N_("Claim closed"),
        "claim.dispute": N_("Dispute"),
        "claim.undispute": N_("No longer disputed"),
        "claim.hold": N_("Dunning stopped or postponed"),
        "claim.limitation": N_("Time bar"),
        "claim.manual": N_("Claim from another system"),
        "claim.write_off": N_("Written off"),
        "company.add": N_("Company added"),
        "company.settings": N_("Settings changed"),
        "connection.kravia": N_("Connection to Kravia"),
        "connection.kravia.webhook": N_("Kravia webhook"),
        "connection.smtp": N_("Connection to the mail server"),
        "connection.tripletex": N_("Connection to Tripletex"),
        "connection.tripletex.subscribe": N_("Tripletex webhooks"),
        "customer.automation_off": N_("Tripletex's own reminders off"),
        "customer.automation_take_over": N_("Kravflyt takes over the reminders"),
        "customer.block": N_("Customer blocked"),
        "customer.keep_ladder": N_("Customer keeps the earlier ladder"),
        "customer.set": N_("Customer changed"),
        "handoff.case": N_("Hand-off case made"),
        "handoff.confirm": N_("Hand-off confirmed"),
        "handoff.payout": N_("Payout from the agency"),
        "handoff.sent": N_("Sent to the agency"),
        "handoff.status": N_("Status from the agency"),
        "invoice.credit_note": N_("Credit note"),
        "letter.breach": N_("Letter breaks the law"),
        "letter.told": N_("Letter as Tripletex sent it"),
        "letter.tripletex": N_("Letter through Tripletex"),
        "letters.print": N_("Letters to print"),
        "payment.import": N_("Payment read from the bank"),
        "payment.ledger": N_("Payment in the ledger"),
        "payment.match": N_("Payment matched"),
        "payment.move": N_("Payment moved"),
        "payment.register": N_("Payment registered"),
        "payment.set_aside": N_("Payment set aside"),
        "payment.unmatch": N_("Payment unmatched"),
        "payment.ignore": N_("Payment ignored"),
        "payment.unignore": N_("Payment no longer ignored"),
        "sync.tripletex": N_("Sync with Tripletex"),
        "tripletex.webhook_disabled": N_("Tripletex stopped a webhook"),
        "user.add": N_("User added"),
        "user.grant": N_("Access given"),
        "jobs.retry": N_("Job put back in the queue"),
        "outbox.retry": N_("Sending put back in the queue"),
        "outbox.resend": N_("Sent again by hand"),
        "outbox.mark_sent": N_("Marked sent by hand"),
        "letter.cancel": N_("Letter cancelled"),
        "inbox.retry": N_("Webhook put back in the queue"),
        "rates.add": N_("Rate added"),
        "rates.correct": N_("Rate corrected"),
    },
    # why a payment's suggested invoice was suggested
    "suggestion": {
        "amount": N_("same amount"),
        "message": N_("the invoice number is in the message"),
        "name": N_("the payer's name"),
        "kid": N_("the KID"),
        "account": N_("the payer's account"),
        "customer": N_("the payer's only open invoice"),
        "booked": N_("the customer the payment is booked on"),
    },
    # claims.agency_status before the agency has answered: the hand-off case is made and
    # waits for the worker that registers it at the agency
    "agency_status": {
        "sending": N_("waits for the worker that sends it to the agency"),
    },
    # Kravia's own status codes (connectors.kravia.status.CODES), compared without case,
    # spaces, '-' or '_': what the agency says, in words; a code not here is shown as it came
    "agency_code": {
        "registered": N_("registered"),
        "inkassovarsel": N_("debt collection notice sent"),
        "betalingsoppfordring": N_("demand for payment sent"),
        "varselomrettsligpagang": N_("notice of legal action sent"),
        "ventergodkjenning": N_("waits for your approval"),
        "rettslig": N_("legal collection"),
        "overvakning": N_("under surveillance"),
        "betalt": N_("paid"),
        "kreditert": N_("credited"),
        "trukket": N_("withdrawn"),
        "avskrevet": N_("written off"),
    },
    # letters.status: where the letter's delivery stands
    "letter_status": {
        "pending": N_("queued: waits for the worker that sends it"),
        "sent": N_("sent"),
        "failed": N_("sending failed: see the worklist"),
        "unknown": N_("not known whether it was sent: being checked"),
        "cancelled": N_("cancelled"),
    },
    # user roles
    "role": {
        "admin": N_("administrator"),
        "accountant": N_("accountant"),
        "read_only": N_("read access"),
    },
    # connectors.kravia.status.AgencyState: what Kravia's status code means for the claim
    # outbox kinds: what a send was
    "outbox_kind": {
        "letter.email": N_("letter by e-mail"),
        "tripletex.reminder": N_("letter through Tripletex"),
        "tripletex.payment": N_("payment registered in Tripletex"),
        "tripletex.automation_off": N_("Tripletex's own reminders switched off"),
        "kravia.register": N_("hand-off to Kravia"),
        "kravia.payment": N_("payment forwarded to Kravia"),
        "kravia.creditnote": N_("credit note forwarded to Kravia"),
    },
    "agency_state": {
        "active": N_("being collected by Kravia"),
        "action": N_("Kravia waits for your approval"),
        "closed_paid": N_("paid to Kravia"),
        "closed_credited": N_("credited at Kravia"),
        "closed_withdrawn": N_("withdrawn from Kravia"),
        "closed_written_off": N_("written off by Kravia"),
        "unknown": N_("a Kravia status Kravflyt does not know"),
    },
    # how a bank payment was matched, where a person reads it
    "match_method": {
        "kid": N_("KID"),
        "kid_in_message": N_("KID in the message"),
        "invoice_number_in_message": N_("invoice number in the message"),
        "payer_and_amount": N_("payer and amount"),
        "agency_payout": N_("Kravia's payout of money it collected"),
    },
}


def agency_message(stored: str | None) -> Message | str:
    """A claim's status at the agency as a message (stored in audit lines, shown by
    `agency_said`): the agency's own status in words and what it means for the claim."""
    if not stored:
        return ""
    state, _, code = stored.rpartition(":")
    key = "".join(ch for ch in code.lower() if ch.isalnum())
    if not state:  # our own state before the agency answered, or a bare code stored earlier
        return LABELS["agency_status"].get(stored) or LABELS["agency_code"].get(key) or stored
    return N_(
        "the agency says: %(status)s (%(meaning)s)",
        status=LABELS["agency_code"].get(key) or code,
        meaning=LABELS["agency_state"].get(state) or state,
    )


def agency_said(stored: str | None) -> str:
    """A claim's status at the agency as a person reads it: before the agency has answered,
    that it waits for the worker; after, the agency's own status in words (a code Kravflyt
    does not know as it came) and what it means for the claim."""
    found = agency_message(stored)
    return found.text() if isinstance(found, Message) else found


def event(kind: str) -> str:
    """The words for a timeline or audit event: letters and allocations by their stage or
    part, dunning steps by their stage, the rest from the "event" words."""
    head, _, rest = kind.partition(".")
    if kind in LABELS["event"]:
        return label("event", kind)
    if head == "letter" and rest in LABELS["stage"]:
        return label("stage", rest).capitalize()
    if head == "allocation" and rest in LABELS["allocation"]:
        return label("allocation", rest).capitalize()
    if head == "dunning":
        stage = rest.removeprefix("manual.")
        if stage in LABELS["stage"]:
            return label("stage", stage).capitalize()
    if head == "handoff":
        return label("event", "handoff.sent")
    return kind


def who(actor: str | None) -> str:
    """Who did it, as a person reads it: the user's e-mail, or Kravflyt itself."""
    if not actor:
        return ""
    head, _, rest = actor.partition(":")
    if head in ("web", "cli", "api") and rest:
        return rest
    if head in ("kravia", "tripletex"):
        return head.capitalize()
    if head == "cli":
        return N_("command line").text(current())
    return "Kravflyt" if head in ("system", "demo", "worker", "scheduler") else actor


def label(kind: str, code: object) -> str:
    """The words for `code` of `kind` in the current language (the code itself when it has
    none: the pages' test looks for those)."""
    if code is None or code == "":
        return ""
    key = getattr(code, "value", code)
    found = LABELS.get(kind, {}).get(str(key))
    return found.text(current()) if found else str(key)
