"""The report page in a real headless Chromium (Debian's package, driven by Playwright).

Every test fails on a console error, an uncaught page error or a request that leaves
the file. The screenshot test writes the picture in docs/report.md when
GRA_REPORT_SCREENSHOT names a path (``make screenshot``); otherwise into tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gra.report import build_report
from tests import browser
from tests.report_runs import HOSTILE, FakeEmbedder, write_run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    why = browser.unavailable()
    if why:
        if os.environ.get("CI"):  # CI must run them: a missing browser is a failure there
            pytest.fail(why)
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = browser.launch(p, tmp_path_factory.mktemp("profile"))
        yield ctx
        ctx.close()


class Page:
    """One page with its console errors, page errors, dialogs and outside requests."""

    def __init__(self, ctx, path: Path):
        self.page = ctx.new_page()
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", self._dialog)
        self.page.on("request", self._request)
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("html[data-ready='1']", timeout=30_000)

    def _dialog(self, d) -> None:
        self.dialogs.append(d.message)
        d.dismiss()

    def _request(self, r) -> None:
        if not r.url.startswith(("file:", "data:")):
            self.problems.append(f"request: {r.url}")

    def rows(self) -> list[str]:
        return self.page.locator("#rows tr").all_inner_texts()

    def info(self) -> str:
        return self.page.locator("#f-info").inner_text()

    def close(self) -> None:
        assert self.problems == []
        assert self.dialogs == []
        self.page.close()


@pytest.fixture(scope="module")
def realistic(tmp_path_factory) -> Path:
    """A 600-candidate run with every fate, a few unfinished; real MiniLM embeddings when
    installed (the page says so when not)."""
    base = tmp_path_factory.mktemp("real")
    run_dir = write_run(base / "runs" / "synth-demo", 600, running=3)
    cwd = os.getcwd()
    os.chdir(base)  # the page shows the run directory as given: runs/synth-demo
    try:
        build_report(Path("runs/synth-demo"))
    finally:
        os.chdir(cwd)
    return run_dir / "report.html"


def test_realistic_report_renders_filters_and_screenshot(chromium, realistic, tmp_path):
    p = Page(chromium, realistic)
    page = p.page
    text = page.locator("body").inner_text()
    for heading in ("Funnel", "Score distributions", "Reviewer agreement", "Acceptance by"):
        assert heading in text
    assert page.locator("#scores svg").count() == 7  # overall + six dimensions
    assert page.locator("#agreement svg").count() == 2
    assert "603 candidates" in p.info() or "of 603 matching" in p.info()
    assert len(p.rows()) == 100  # one page of the list, not 603 rows

    # filter by verdict: a scripted select, and the visible rows change
    before = p.rows()
    page.select_option("#f-verdict", "state:accepted")
    after = p.rows()
    assert after != before and after
    assert all("\taccepted (" in r for r in after)
    n_accepted = page.evaluate(
        "JSON.parse(document.getElementById('gra-data').textContent).meta.states.accepted"
    )
    assert f"of {n_accepted} matching" in p.info() and n_accepted > 100
    page.select_option("#f-domain", "math")
    math_rows = p.rows()
    assert math_rows and all("\tmath\t" in r for r in math_rows) and len(math_rows) < len(after)
    page.select_option("#f-domain", "")
    page.select_option("#f-reviewer", "gemma3-270m")  # the occasional third reviewer
    third = p.rows()
    assert third and len(third) < len(after)
    page.click("#rows tr:first-child")
    assert "gemma3-270m" in page.locator("#detail").inner_text()
    page.select_option("#f-reviewer", "")
    page.select_option("#f-domain", "math")
    # a click on a row opens the sample, its reviews and what was decided
    page.click("#rows tr:first-child")
    detail = page.locator("#detail").inner_text()
    assert "REVIEWS" in detail.upper() and "review 1:" in detail and "RESPONSE" in detail.upper()
    # search, then paging over every candidate again
    page.select_option("#f-verdict", "")
    page.select_option("#f-domain", "")
    page.fill("#f-search", "cheap check: truncated")
    page.wait_for_function("document.querySelector('#f-info').textContent.includes('matching')")
    page.wait_for_timeout(400)  # the search waits 150 ms for typing to stop
    rows = p.rows()
    assert rows and all("cheap check" in r for r in rows)
    page.fill("#f-search", "")
    page.wait_for_timeout(400)
    page.click("#f-next")
    assert "showing 101–200" in p.info()
    page.select_option("#score-reviewer", "smollm2-135m")
    assert page.locator("#scores svg").count() == 7

    if page.locator("#map-svg").count():
        assert "Showing" in page.locator("#map-caption").inner_text()
        page.locator("#map-svg circle.pt-acc").first.dispatch_event("click")
        assert "accepted" in page.locator("#detail").inner_text()
        page.evaluate("window.scrollTo(0, 0)")
    else:
        assert "No map" in page.locator("#map").inner_text()

    # the pictures in docs/report.md: the top of the page, and the sample browser
    out = Path(os.environ.get("GRA_REPORT_SCREENSHOT") or tmp_path / "report.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    page.select_option("#score-reviewer", "(all reviewers)")
    page.select_option("#f-verdict", "verdict:accepted (adjudicator)")
    page.click("#rows tr:nth-child(2)")
    page.locator("#samples").screenshot(path=str(out.with_name(out.stem + "-samples.png")))
    page.set_viewport_size({"width": 1400, "height": 1900})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(out))
    for f in (out, out.with_name(out.stem + "-samples.png")):
        assert f.stat().st_size > 10_000
    p.close()


def test_hostile_text_is_shown_as_text_and_never_runs(chromium, tmp_path):
    run_dir = write_run(tmp_path / "hostile", 40, n_seeds=12, payloads=HOSTILE)
    build_report(run_dir, embedder=FakeEmbedder())
    p = Page(chromium, run_dir / "report.html")
    page = p.page
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('script').length") == 2
    assert page.evaluate("document.querySelectorAll('img, iframe, textarea, u, .pwn').length") == 0

    # the list shows instructions as written
    page.fill("#f-search", "alert(1)")
    page.wait_for_timeout(400)
    assert any(HOSTILE[0] in r for r in p.rows())
    # a candidate's detail: instruction, response, critique, reason as written
    texts = set()
    for i in range(min(6, len(p.rows()))):
        page.click(f"#rows tr:nth-child({i + 1})")
        texts.add(page.locator("#detail").inner_text())
    shown = "\n".join(texts)
    for x in HOSTILE[:4]:
        assert x in shown, x
    # seeds, including their seed ids and the hostile domain name in the filter
    page.fill("#f-search", "")
    page.select_option("#f-what", "seeds")
    page.wait_for_timeout(50)
    page.click("#rows tr:first-child")
    assert HOSTILE[0] in page.locator("#detail").inner_text()
    options = page.locator("#f-domain option").all_inner_texts()
    assert HOSTILE[0][:40] in options
    body = page.locator("body").inner_text()
    assert HOSTILE[0] in body and HOSTILE[1] in body
    # hovering and clicking map points shows text too, and nothing ran anywhere
    if page.locator("#map-svg").count():
        page.locator("#map-svg circle").first.hover()
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('script').length") == 2
    p.close()


def test_half_way_and_empty_runs_render_without_errors(chromium, tmp_path):
    half = write_run(tmp_path / "half", 25, running=6, summary=False)
    build_report(half, embeddings=False)
    p = Page(chromium, half / "report.html")
    body = p.page.locator("body").inner_text()
    assert "6 candidates are unfinished" in body and "No data.jsonl" in body
    assert "No map: skipped (--no-embeddings)" in body
    p.page.select_option("#f-verdict", "state:running")
    assert len(p.rows()) == 6 and all("unfinished" in r for r in p.rows())
    p.close()

    from gra.core.store import Store

    empty = tmp_path / "empty"
    empty.mkdir()
    Store(empty / "run.sqlite").close()
    build_report(empty, embeddings=False)
    p = Page(chromium, empty / "report.html")
    assert "no match among 0 candidates" in p.info()
    p.close()
