"""The crash and fault harness, short and seeded (the long run is `make reliability`): all six
kinds of send (Tripletex payments and reminders, Kravia cases, direct payments and credit
notes, e-mails through a local SMTP server) by three worker processes at once on PostgreSQL,
crashing at each point, with failed lookups, lost answers, writes slower than the lease and
a faulty mail server; what the remotes hold must be what was meant, once."""

from __future__ import annotations

import pytest

from bench import crash
from bench.crash_report import KINDS


@pytest.mark.pg
def test_every_kind_of_send_survives_crashes_and_faults_exactly_once(pg_url) -> None:
    report = crash.run(
        pg_url,
        sends=30,
        seed=3,
        at_once=3,
        threads=3,
        faults=crash.Faults(
            # Often enough that a short run crashes at each point, yet converges: a crash ends
            # a worker holding up to three rows, each of which is then looked up.
            crash="before_send:0.08,after_send:0.08,in_lookup:0.2",
            kill_share=0.05,
            random=0.02,
            failed_lookups=0.3,
            lost_answers=5,
            slow_writes=2,
            smtp_refuse=0.1,
            smtp_drop=0.1,
        ),
        timeout_s=900,  # a safety net on a loaded machine: the run itself takes about a minute
    )
    figures = report.as_markdown()
    assert not report.timed_out, figures
    assert set(report.intended) == set(KINDS), figures
    assert sum(report.intended.values()) >= 24, figures
    # Workers died at each point of a send, or the run proved nothing.
    assert all(report.crashes_by_point[p] >= 1 for p in crash.EXIT_CODES), figures
    assert report.failed_lookups, figures  # failed by the sandboxes
    # Every lookup a remote failed was recorded failed by its worker, or its worker died
    # while making it: the report's one count of failed lookups is the remotes'.
    assert report.lookups_unexplained == set(), figures
    assert report.faults["lost_answer"] >= 1, figures  # made, answer lost: found by lookup
    assert (report.duplicates, report.lost) == (0, 0), figures
    assert not report.worker_errors, (figures, report.errors_seen)  # only our crashes
    for kind, f in report.kinds.items():
        assert f.remote >= f.sent, (kind, figures)
        # Left for a person only with a reason; an e-mail never (the person settled each).
        assert all(reason for reason in f.left), figures
    assert report.kinds["letter.email"].left == {}, figures
    assert report.sent + report.unknown_left == sum(report.intended.values()), figures
