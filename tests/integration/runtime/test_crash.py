"""Crash injection over real HTTP (the small run; `make reliability` runs 1,000 sends):
worker processes killed with SIGKILL from outside and crashing inside between the remote
call and the commit; every reminder, payment and case still exists exactly once remotely."""

from __future__ import annotations

import pytest

from bench import crash


@pytest.mark.pg
def test_sends_survive_killed_workers_exactly_once(pg_url) -> None:
    report = crash.run(pg_url, sends=80, crash="any:0.04", seed=3)
    assert sum(report.intended.values()) >= 80
    assert set(report.intended) == {"tripletex.payment", "tripletex.reminder", "kravia.register"}
    assert report.kills + report.crashes >= 3, "no worker died: the run proved nothing"
    assert (report.duplicates, report.lost) == (0, 0), report.as_row()
    assert report.sent == sum(report.intended.values())
    assert report.remote["tripletex.reminder"] == report.intended["tripletex.reminder"]
    assert report.remote["tripletex.payment"] == report.intended["tripletex.payment"]
