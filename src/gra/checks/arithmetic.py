"""Arithmetic the response writes out, recomputed: "92 - 80 = 22" is wrong whatever the
reviewers think of the prose around it.

Only explicit equations of numbers and + - * / (also written x, ×, ÷, \\times, \\cdot,
\\div, inside LaTeX delimiters or not) are read; percentages, units, variables and
equations whose right side goes on ("= 12 + 3") are left alone, and so is integer
division with a remainder ("126 / 84 = 1 remainder 42"). A decimal result may be
rounded (1% or 0.011, whichever is larger).
"""

from __future__ import annotations

import re

from gra.checks.base import Sample

_NUM = r"-?\d+(?:,\d{3})*(?:\.\d+)?"
_OP = r"[-+*/]"
_EQUATION = re.compile(
    rf"(?<![\w.^])({_NUM}(?:\s*{_OP}\s*{_NUM})+)\s*=\s*({_NUM})"
    rf"(?![\w%]|\.\d|\s*[-+*/^(]\s*\d|\s*(?:remainder|rem\b|r\b|with\b))",
    re.I,
)


def _plain(text: str) -> str:
    """LaTeX and typographic operators as Python's; LaTeX delimiters dropped."""
    for a, b in (("\\times", "*"), ("\\cdot", "*"), ("\\div", "/"), ("×", "*"), ("÷", "/")):
        text = text.replace(a, b)
    text = text.replace("\u2212", "-")
    text = re.sub(r"\\[()\[\]]", " ", text)
    return re.sub(r"(?<=\d)\s*x\s*(?=\d)", " * ", text)


def wrong_equations(text: str) -> list[str]:
    """Each written-out equation whose left side does not give its right side."""
    found = []
    for m in _EQUATION.finditer(_plain(text)):
        lhs, rhs = m.group(1), m.group(2)
        try:
            value = eval(lhs.replace(",", ""), {"__builtins__": {}})  # digits and + - * / only
        except (ZeroDivisionError, SyntaxError):
            continue
        want = float(rhs.replace(",", ""))
        rounded = "." in rhs or "/" in lhs
        tolerance = max(0.01 * abs(value), 0.011) if rounded else 1e-9
        if abs(value - want) > tolerance:
            found.append(f"{' '.join(lhs.split())} = {rhs} (it is {value:g})")
    return found


def arithmetic(s: Sample) -> str | None:
    wrong = wrong_equations(s.text)
    return "wrong arithmetic: " + "; ".join(wrong[:2]) if wrong else None


CHECKS = {"arithmetic": arithmetic}
DESCRIPTIONS = {
    "arithmetic": "an equation the response writes out (92 - 80 = 22) that recomputes to "
    "something else",
}
