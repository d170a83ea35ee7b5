"""How long ``gra report`` takes on a 10,000-candidate run, and how fast the page opens.

    .venv/bin/python benchmarks/report_scale.py [--n 10000] [--seeds 300] [--loads 3]
                                                [--no-embeddings] [--keep DIR]

Writes a synthetic run straight into a Store (tests/report_runs.py: every fate,
two or three reviewers with their own biases, expected-value scores, token counts),
runs ``gra report`` as its own process without and with embeddings (MiniLM, map of
at most 2,000 points), then opens each page in headless Chromium (Debian's, through
Playwright) and prints the time from navigation start to the page's ready marker,
and the time of a verdict filter and a text search over all candidates. Numbers,
never assertions: the tests check behaviour, this measures it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests import browser  # noqa: E402
from tests.report_runs import write_run  # noqa: E402


def gra_report(run_dir: Path, out: Path, *args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gra", "report", str(run_dir), "--out", str(out), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - t0


def page_times(ctx, path: Path, loads: int) -> dict[str, float]:
    ready, wall, filt, search, errors = [], [], [], [], []
    for _ in range(loads):
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        t0 = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_selector("html[data-ready='1']", timeout=120_000)
        wall.append(time.perf_counter() - t0)
        ready.append(page.evaluate("window.graReport.readyMs") / 1000)
        filt.append(
            page.evaluate(
                """() => { const s = document.getElementById('f-verdict');
                const t = performance.now(); s.value = 'state:rejected';
                s.dispatchEvent(new Event('change')); return performance.now() - t; }"""
            )
            / 1000
        )
        search.append(
            page.evaluate(
                """() => { const q = document.getElementById('f-search'),
                s = document.getElementById('f-verdict'); s.value = '';
                q.value = 'cheap check: truncated'; const t = performance.now();
                s.dispatchEvent(new Event('change')); return performance.now() - t; }"""
            )
            / 1000
        )
        page.close()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    return {
        "ready_s": statistics.median(ready),
        "wall_s": statistics.median(wall),
        "filter_s": statistics.median(filt),
        "search_s": statistics.median(search),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="candidates")
    ap.add_argument("--seeds", type=int, default=300)
    ap.add_argument("--loads", type=int, default=3, help="page loads per report (median)")
    ap.add_argument("--keep", type=Path, help="write the run here and keep it")
    ap.add_argument(
        "--no-embeddings", action="store_true", help="only the report without embeddings"
    )
    args = ap.parse_args()
    why = browser.unavailable()
    if why:
        raise SystemExit(f"no browser: {why}")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.keep or Path(tmp) / "run"
        t0 = time.perf_counter()
        write_run(run_dir, args.n, n_seeds=args.seeds, running=20, target=args.n // 4)
        print(
            f"synthetic run: {args.n} candidates, {args.seeds} seeds, written in "
            f"{time.perf_counter() - t0:.1f}s"
        )
        results = []
        variants = [("--no-embeddings", ["--no-embeddings"]), ("embeddings", [])]
        for label, extra in variants[: 1 if args.no_embeddings else 2]:
            out = run_dir / f"report{'-noemb' if extra else ''}.html"
            secs = gra_report(run_dir, out, *extra)
            results.append((label, secs, out, out.stat().st_size / 1e6))
        with sync_playwright() as p:
            ctx = browser.launch(p, Path(tmp) / "profile")
            rows = [(*r, page_times(ctx, r[2], args.loads)) for r in results]
            ctx.close()
    print()
    print(
        f"{'report':<16} {'gra report':>10} {'size MB':>8} {'page ready':>10} "
        f"{'goto→ready':>10} {'filter':>8} {'search':>8}"
    )
    for label, secs, _, size, t in rows:
        print(
            f"{label:<16} {secs:>9.1f}s {size:>8.1f} {t['ready_s']:>9.2f}s "
            f"{t['wall_s']:>9.2f}s {t['filter_s'] * 1000:>6.0f}ms {t['search_s'] * 1000:>6.0f}ms"
        )
    print(
        "page ready: navigation start to the page's ready marker (performance.now()), "
        f"median of {args.loads} loads; filter: a verdict select over all candidates; "
        "search: the first text search (builds the lowercase index)"
    )


if __name__ == "__main__":
    main()
