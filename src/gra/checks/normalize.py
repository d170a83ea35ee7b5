"""Text normalisation shared by the checks and the constraint parser."""

from __future__ import annotations

import re

#: a letter or digit (any script)
ALNUM = re.compile(r"[^\W_]")


def normalize_quotes(s: str) -> str:
    return (
        s.replace("“", '"')
        .replace("”", '"')
        .replace("‘", "'")
        .replace("’", "'")
        .replace("–", "-")
        .replace("—", "-")
    )
