"""The fuzz report: tables, failures with examples, and the verdict, in Markdown."""

from __future__ import annotations

from collections import Counter

from bench.fuzz.parsers import ImportReport, ParserRun
from bench.fuzz.webhooks import WebhookTally

# Report
# ---------------------------------------------------------------------------------------------


def num(value: int) -> str:
    """A count with thousands separators."""
    return f"{value:,}"


def parser_table(runs: list[ParserRun]) -> list[str]:
    """The main table, one row per format, and the breakdown by strategy."""
    out = [
        "| format | cases | parsed | refused with a clear error | unclear refusals | crashes (must be 0) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        o = run.total().outcomes
        out.append(
            f"| {run.label} | {num(run.total().cases)} | {num(o['parsed'])} | {num(o['refused'])}"
            f" | {num(o['unclear'])} | {num(o['crash'])} |"
        )
    out += ["", "| format | strategy | cases | parsed | refused | unclear | crashes |"]
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for run in runs:
        for name, tally in run.tallies.items():
            o = tally.outcomes
            out.append(
                f"| {run.label} | {name} | {num(tally.cases)} | {num(o['parsed'])} | {num(o['refused'])}"
                f" | {num(o['unclear'])} | {num(o['crash'])} |"
            )
    return out


def failure_section(title: str, counts: Counter[str], examples: dict[str, list[str]]) -> list[str]:
    """Each kind of failure with its count and first examples."""
    out: list[str] = []
    for kind, count in counts.most_common():
        out += ["", f"**{title}: {kind}** ×{num(count)}", ""]
        out += [f"{i}. {example}" for i, example in enumerate(examples.get(kind, []), 1)]
    return out


def parser_failures(runs: list[ParserRun]) -> list[str]:
    """Crashes and unclear refusals, by format and strategy."""
    out: list[str] = []
    for run in runs:
        for name, tally in run.tallies.items():
            out += failure_section(f"{run.label}, {name}", tally.crash_types, tally.examples)
    return out


def import_table(report: ImportReport) -> list[str]:
    """Part 2's table."""
    refused = ", ".join(f"{k} {num(v)}" for k, v in sorted(report.refused.items())) or "none"
    out = [
        "| refused imports tried | refused by the import | imported anyway | rows written (must be 0)"
        " | rows a valid file wrote afterwards |",
        "|---:|---|---:|---:|---:|",
        f"| {num(report.tried)} | {refused} | {num(report.imported)} | {num(report.rows_written)}"
        f" | {num(report.control_rows)} |",
    ]
    return out + failure_section("import", report.failures, report.examples)


def webhook_table(tallies: dict[str, WebhookTally], rows: list[tuple[str, str]]) -> list[str]:
    """Part 3's tables: answers per group, then the inbox against the accepted bodies."""
    out = [
        "| endpoint | deliveries | 202 | 4xx by status | 4xx without a JSON error"
        " | 5xx or exception (must be 0) |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for label, t in tallies.items():
        fours = ", ".join(f"{s}: {num(c)}" for s, c in sorted(t.statuses.items()) if 400 <= s < 500)
        failed = sum(t.failures.values())
        kinds = f" ({', '.join(f'{k} ×{v}' for k, v in t.failures.items())})" if failed else ""
        out.append(
            f"| {label} | {num(t.sent)}{f' ({t.not_sent} not sent)' if t.not_sent else ''} | {num(t.statuses[202])} | {fours or '-'} | {num(t.unclear)}"
            f" | {num(failed)}{kinds} |"
        )
    accepted = set().union(*(t.accepted for t in tallies.values()))
    stored = Counter(rows)
    out += [
        "",
        "| 202 answers | distinct accepted bodies | inbox rows | rows for no accepted body"
        " | accepted bodies without exactly one row |",
        "|---:|---:|---:|---:|---:|",
        f"| {num(sum(t.statuses[202] for t in tallies.values()))} | {num(len(accepted))}"
        f" | {num(len(rows))} | {num(len(set(stored) - accepted))}"
        f" | {num(sum(1 for key in accepted if stored[key] != 1))} |",
    ]
    for label, t in tallies.items():
        problems = t.failures + Counter({"unclear answer": t.unclear, "not sent": t.not_sent})
        out += failure_section(label, problems, t.examples)
    return out


def verdict(
    runs: list[ParserRun],
    report: ImportReport,
    tallies: dict[str, WebhookTally],
    rows: list[tuple[str, str]],
) -> str:
    """One line: did every input get accepted or refused clearly, with nothing left behind?"""
    parsers_ok = all(
        r.total().outcomes["crash"] == r.total().outcomes["unclear"] == 0 for r in runs
    )
    imports_ok = report.imported == report.rows_written == 0 and report.control_rows > 0
    imports_ok = imports_ok and all(not k.startswith("other") for k in report.refused)
    accepted = set().union(*(t.accepted for t in tallies.values()))
    hooks_ok = all(not (t.failures or t.unclear or t.not_sent) for t in tallies.values())
    hooks_ok = hooks_ok and Counter(rows) == Counter(accepted)
    parts = {"parsers": parsers_ok, "no partial import": imports_ok, "webhooks": hooks_ok}
    return "; ".join(f"{k}: {'pass' if ok else 'FAIL'}" for k, ok in parts.items())
