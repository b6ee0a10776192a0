"""Crash injection over real HTTP (the small run; `make reliability` runs the long one): three
worker processes at a time killed with SIGKILL from outside and crashing inside (before the
send, between the remote call and the commit, after a lookup), random network faults and
lookups that fail; every reminder, payment and case still exists exactly once remotely."""

from __future__ import annotations

import pytest

from bench import crash


@pytest.mark.pg
def test_sends_survive_killed_workers_exactly_once(pg_url) -> None:
    report = crash.run(
        pg_url,
        sends=40,
        crash="any:0.04",
        seed=3,
        at_once=3,
        faults=0.03,
        refused_lookups=4,
        lost_answers=6,
    )
    assert sum(report.intended.values()) >= 40
    assert set(report.intended) == {"tripletex.payment", "tripletex.reminder", "kravia.register"}
    assert report.kills + report.crashes >= 3, "no worker died: the run proved nothing"
    assert report.faults["lost_answer"] == 6  # made, answer lost: found by lookup, not resent
    assert (report.duplicates, report.lost, report.unknown_left) == (0, 0, 0), report.as_row()
    assert report.sent == sum(report.intended.values())
    assert report.remote["tripletex.reminder"] == report.intended["tripletex.reminder"]
    assert report.remote["tripletex.payment"] == report.intended["tripletex.payment"]
