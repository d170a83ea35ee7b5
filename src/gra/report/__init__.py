"""``gra report``: one self-contained HTML page about a synth run.

``build_report`` gathers the data (``data.py``) and writes the page
(``render.py`` inlines ``page.html``, ``page.css`` and ``page.js``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gra.core.errors import UserError
from gra.core.store import STORE_NAME, Store
from gra.report.data import DEFAULT_MAP_POINTS, gather
from gra.report.render import render

REPORT_NAME = "report.html"

__all__ = ["DEFAULT_MAP_POINTS", "REPORT_NAME", "build_report", "load_embedder_or_note"]


def load_embedder_or_note(embeddings: bool, name: str | None) -> tuple[Any, str]:
    """The embedder, or None and a line saying why there is none (shown on the page)."""
    if not embeddings:
        return None, "skipped (--no-embeddings)"
    try:
        from gra.curate.embed import DEFAULT_EMBEDDER, load_embedder

        return load_embedder(name or DEFAULT_EMBEDDER), ""
    except Exception as e:  # noqa: BLE001 - the page says so instead of failing
        return None, f"the embedder could not be loaded: {e}"


def build_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    embeddings: bool = True,
    embedder_name: str | None = None,
    max_points: int = DEFAULT_MAP_POINTS,
    seed: int = 0,
    embedder: Any = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``).

    ``embedder`` (an object with ``name``, ``dim`` and ``embed(texts)``) replaces
    loading ``embedder_name``; ``progress`` gets a line before the slow part."""
    from gra.io.formats import write_text_atomic

    run_dir = Path(run_dir)
    if not (run_dir / STORE_NAME).is_file():
        raise UserError(f"not a gra run directory (no {STORE_NAME})", str(run_dir))
    out = Path(out) if out is not None else run_dir / REPORT_NAME
    if out.is_dir():
        raise UserError("is a directory; give a file path", f"--out {out}")
    note = ""
    if embedder is None:
        embedder, note = load_embedder_or_note(embeddings, embedder_name)
    store = Store(run_dir / STORE_NAME, new_session=False, lock=False)
    try:
        data = gather(
            run_dir,
            store,
            embedder=embedder,
            embed_note=note,
            max_points=max_points,
            seed=seed,
            progress=progress,
        )
    finally:
        store.close()
    write_text_atomic(out, render(data))
    return out
