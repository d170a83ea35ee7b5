"""The report page: the template with its styles, script and data inlined.

The data travels as JSON in a ``<script type="application/json">`` block, which
the browser never runs. ``<``, ``>`` and ``&`` are written as ``\\u003c``,
``\\u003e`` and ``\\u0026`` (so no text can close the block or open a comment),
U+2028/U+2029 and lone surrogates as escapes too; the page's script reads the
block with ``JSON.parse`` and puts every string on the page as text
(``textContent``, ``createElement``), never as markup. A Content-Security-Policy
allows only the page's own script (by its hash), no network and no inline
event handlers, as a second line of defence.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from importlib import resources
from typing import Any

DATA_MARK = "@@GRA_DATA@@"
SCRIPT_MARK = "@@GRA_SCRIPT@@"
STYLE_MARK = "@@GRA_STYLE@@"
CSP_MARK = "@@GRA_CSP_SCRIPT@@"

_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}
_ESCAPES.update({cp: f"\\u{cp:04x}" for cp in (0x2028, 0x2029, *range(0xD800, 0xE000))})


def _template(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def embed_json(data: Any) -> str:
    """JSON that is safe inside a ``<script type="application/json">`` element."""
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:  # a NaN somewhere: slower, but never invalid JSON
        text = json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"))
    return text.translate(_ESCAPES)


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def render(data: dict[str, Any]) -> str:
    """The whole page as one HTML string."""
    page = _template("page.html")
    script = _template("page.js")
    style = _template("page.css")
    if "</script" in script.lower() or "<!--" in script:
        raise ValueError("page.js must not contain '</script' or '<!--'")
    if "</style" in style.lower():
        raise ValueError("page.css must not contain '</style'")
    for mark in (DATA_MARK, SCRIPT_MARK, STYLE_MARK, CSP_MARK):
        if page.count(mark) != 1:
            raise ValueError(f"page.html must hold {mark} once")
    # one pass over the template: the inserted parts are never searched for marks
    parts = {
        DATA_MARK: embed_json(data),
        SCRIPT_MARK: script,
        STYLE_MARK: style,
        CSP_MARK: f"'sha256-{_sha256(script)}'",
    }
    out, rest = [], page
    while True:
        hits = [(rest.find(m), m) for m in parts if rest.find(m) >= 0]
        if not hits:
            out.append(rest)
            break
        pos, mark = min(hits)
        out.append(rest[:pos])
        out.append(parts.pop(mark))
        rest = rest[pos + len(mark) :]
    return "".join(out)
