"""The exactly-once tests of issue 19 (test_exactly_once.py) again, with every worker sending
through its pool of sender threads (issue 25: rows taken in batches, the leases renewed by
one heartbeat for all, the fence's compare-and-set before each write, recorded in batches)."""

from __future__ import annotations

import functools

import pytest

from adapter import bootstrap
from tests.integration.tripletex import test_as_it_behaves, test_exactly_once
from tests.integration.tripletex.test_as_it_behaves import world
from tests.integration.tripletex.test_exactly_once import (
    test_a_cancelled_failed_letter_lets_the_ladder_decide_again,
    test_a_letter_never_delivered_never_leads_to_an_inkassovarsel_or_a_hand_off,
    test_a_queued_letter_does_not_count_until_it_is_sent,
    test_a_rate_limited_lookup_never_becomes_a_blind_resend_of_a_payment,
    test_a_rate_limited_lookup_never_becomes_a_second_reminder,
    test_a_refused_email_fails_the_letter_with_the_servers_reason,
    test_a_write_slower_than_the_lease_is_not_sent_again_by_another_worker,
    test_an_email_lost_after_data_waits_for_a_person_who_resends_or_marks_it,
    test_connection_refused_is_not_sent_and_goes_by_itself_later,
    test_the_payment_lookup_finds_this_payment_not_an_earlier_one,
    test_two_payments_of_one_amount_on_one_day_are_both_booked_once,
)

__all__ = [
    "test_a_cancelled_failed_letter_lets_the_ladder_decide_again",
    "test_a_letter_never_delivered_never_leads_to_an_inkassovarsel_or_a_hand_off",
    "test_a_queued_letter_does_not_count_until_it_is_sent",
    "test_a_rate_limited_lookup_never_becomes_a_blind_resend_of_a_payment",
    "test_a_rate_limited_lookup_never_becomes_a_second_reminder",
    "test_a_refused_email_fails_the_letter_with_the_servers_reason",
    "test_a_write_slower_than_the_lease_is_not_sent_again_by_another_worker",
    "test_an_email_lost_after_data_waits_for_a_person_who_resends_or_marks_it",
    "test_connection_refused_is_not_sent_and_goes_by_itself_later",
    "test_the_payment_lookup_finds_this_payment_not_an_earlier_one",
    "test_two_payments_of_one_amount_on_one_day_are_both_booked_once",
    "world",
]


@pytest.fixture(autouse=True)
def concurrent_senders(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every worker these tests build sends through a pool of eight sender threads."""
    pooled = functools.partial(bootstrap.worker, senders=8)
    monkeypatch.setattr(test_as_it_behaves, "make_worker", pooled)
    monkeypatch.setattr(test_exactly_once, "make_worker", pooled)
