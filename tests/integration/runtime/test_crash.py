"""The crash and fault harness, short and seeded (the long run is `make reliability`): all six
kinds of send (Tripletex payments and reminders, Kravia cases, direct payments and credit
notes, e-mails through a local SMTP server) by three worker processes at once on PostgreSQL,
crashing at each point, with failed lookups, lost answers, writes slower than the lease and
a faulty mail server; what the remotes hold must be what was meant, once."""

from __future__ import annotations

import pytest

from bench import crash


@pytest.mark.pg
def test_every_kind_of_send_survives_crashes_and_faults_exactly_once(pg_url) -> None:
    report = crash.run(
        pg_url,
        sends=24,
        seed=3,
        at_once=3,
        threads=3,
        faults=crash.Faults(
            crash="before_send:0.03,after_send:0.03,in_lookup:0.2",
            kill_share=0.05,
            random=0.02,
            failed_lookups=0.3,
            lost_answers=5,
            slow_writes=2,
            smtp_refuse=0.1,
            smtp_drop=0.1,
        ),
        timeout_s=200,
    )
    figures = report.as_markdown()
    assert not report.timed_out, figures
    assert set(report.intended) == set(crash.KINDS), figures
    assert sum(report.intended.values()) >= 24, figures
    assert report.crashes + report.kills >= 3, "no worker died: the run proved nothing"
    assert report.lookups["lookups_failed"] >= 1, figures  # counted by the sandboxes
    assert report.faults["lost_answer"] >= 1, figures  # made, answer lost: found by lookup
    assert (report.duplicates, report.lost) == (0, 0), figures
    for kind, f in report.kinds.items():
        assert f.remote >= f.sent, (kind, figures)
        # Left for a person only with a reason; an e-mail never (the person settled each).
        assert all(reason for reason in f.left), figures
    assert report.kinds["letter.email"].left == {}, figures
    assert report.sent + report.unknown_left == sum(report.intended.values()), figures
