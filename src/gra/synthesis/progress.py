"""Progress: a live line on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

from gra.core.records import Candidate
from gra.council.caller import LiveStats


class Progress:
    def __init__(
        self, target: int, stats: LiveStats, stream: TextIO | None = None, live: bool | None = None
    ):
        self.target = target
        self.stats = stats
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.counts: Counter = Counter()
        self.adjudicated = 0
        self.t0 = time.perf_counter()
        self._live = None
        if self.live:
            from rich.console import Console
            from rich.live import Live

            # get_renderable: elapsed time and tok/s refresh between candidates too
            self._live = Live(
                get_renderable=self._line,
                console=Console(file=self.stream),
                refresh_per_second=2,
                transient=False,
            )
            self._live.__enter__()

    def _text(self) -> str:
        c = self.counts
        return (
            f"accepted {c['accepted']}/{self.target} | rejected {c['rejected']} | "
            f"adjudicated {self.adjudicated} | duplicates {c['duplicate']} | "
            f"failed {c['failed']} | {self.stats.tokens_per_s():.0f} tok/s | "
            f"{self.stats.calls} calls, {self.stats.cached} from store | "
            f"{time.perf_counter() - self.t0:.0f}s"
        )

    def _line(self):
        from rich.text import Text

        return Text(self._text())

    def update(self, c: Candidate) -> None:
        self.counts[c.state] += 1
        self.adjudicated += c.adjudication is not None
        if self._live is not None:
            self._live.refresh()
            return
        score = ""
        if c.aggregate and c.aggregate.p_good is not None:
            score = f" p(good) {c.aggregate.p_good:.2f}"
        elif c.aggregate and c.aggregate.mean is not None and c.aggregate.std is not None:
            score = f" mean {c.aggregate.mean:.1f} sd {c.aggregate.std:.1f}"
        print(
            f"[{time.perf_counter() - self.t0:7.1f}s] {c.id} {c.domain:<10} "
            f"{c.generator:<20} {c.state:<9}{score} | {self._text()}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
