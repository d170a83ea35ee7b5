"""How ``gra synth --preview`` shows its candidates: rich panels on a terminal, plain
labelled lines when piped."""

from __future__ import annotations

import sys
from typing import Any, TextIO


def rows(item: Any) -> list[tuple[str, str]]:
    """(label, text) lines for one preview item (gra.synthesis.preview.PreviewItem)."""
    c = item.candidate
    out = [("candidate", f"{c.id} · domain {c.domain} · generator {c.generator}")]
    for s in item.seeds:
        out.append(("seed", f"{s.id}: {s.instruction}"))
    out.append(("instruction", c.instruction or "–"))
    if c.input:
        out.append(("input", c.input))
    out.append(("response", c.response or "–"))
    if item.failed_checks:
        for f in item.failed_checks:
            out.append(("check failed", f"{f.name}: {f.detail}"))
    elif c.response:
        out.append(("checks", f"all {item.checks_run} passed"))
    for model, p in item.judges.items():
        out.append(("judge", f"{model}: p(Yes) {p:.2f}"))
    a = c.aggregate
    if a is not None and a.signals:
        shown = ", ".join(f"{k} {v:.2f}" for k, v in a.signals.items() if not k.startswith("yes:"))
        out.append(("signals", shown))
    for r in c.reviews:
        if r.ok:
            scores = ", ".join(f"{k} {v:.1f}" for k, v in r.scores.items())
            out.append((f"review {r.reviewer}", f"{scores}; {r.critique}"))
        else:
            out.append((f"review {r.reviewer}", f"unreadable: {r.error}"))
    if a is not None:
        out.append(("aggregate", a.reason))
    if c.adjudication is not None:
        adj = c.adjudication
        out.append(
            ("adjudicator", f"{adj.adjudicator}: {'keep' if adj.keep else 'drop'}: {adj.reason}")
        )
    decision = {"accepted": "accept"}.get(c.state, c.state)
    out.append(("decision", f"{decision} ({c.reason})" if c.reason else decision))
    return out


def show(items: list[Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    if not stream.isatty():
        for i, item in enumerate(items, start=1):
            print(f"=== candidate {i} of {len(items)}", file=stream)
            for label, text in rows(item):
                print(f"{label}: {text}", file=stream)
            print(file=stream)
        return
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console = Console(file=stream)
    colors = {"accepted": "green", "rejected": "red", "duplicate": "yellow", "failed": "red"}
    for i, item in enumerate(items, start=1):
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for label, text in rows(item):
            table.add_row(label, Text(text))  # Text: model output is never markup
        state = item.candidate.state
        title = f"candidate {i} of {len(items)} · [{colors.get(state, 'white')}]{state}[/]"
        console.print(Panel(table, title=title, title_align="left"))
