"""A Tester's asserts for a Python answer: the model sees the task and the names of the
functions the answer defines (not their code, so the expected values come from the task),
writes a few ``assert`` lines, and gra runs them after the answer's code in the sandbox of
gra.checks.code_run. Only lines that parse as one ``assert`` and call one of the answer's
functions are kept.
"""

from __future__ import annotations

import ast

from gra.checks.base import CheckSettings, Sample
from gra.checks.text import python_blocks
from gra.core.calls import ChatRequest
from gra.core.templates import load
from gra.council.steps.common import request

PROMPT = load("tests")
COUNT = 3
MAX_TOKENS = 200


def defined_functions(code: str) -> list[str]:
    """Names of the top-level functions the code defines (methods and private helpers left
    out)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [
        n.name
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and not n.name.startswith("_")
    ]


def testable_code(instruction: str, input_text: str, response: str) -> tuple[str, list[str]]:
    """The response's closed Python blocks joined, and the public functions they define
    (("", []) when there is nothing to test)."""
    code = "\n\n".join(python_blocks(Sample(instruction, input_text, response, "stop",
                                              CheckSettings())))  # fmt: skip
    names = defined_functions(code) if code else []
    return (code, names) if names else ("", [])


def build(instruction: str, input_text: str, names: list[str], *, seed: int) -> ChatRequest:
    shown = ", ".join(f"`{n}`" for n in names)
    return request(
        PROMPT,
        {"instruction": instruction, "input": input_text, "names": shown, "count": COUNT},
        max_tokens=MAX_TOKENS,
        temperature=0.0,
        seed=seed,
    )


def parse(text: str, names: list[str]) -> list[str]:
    """The reply's assert lines that parse and call one of ``names`` (at most COUNT)."""
    out = []
    for line in text.replace("```python", "").replace("```", "").splitlines():
        line = line.strip()
        if not line.startswith("assert "):
            continue
        try:
            tree = ast.parse(line)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        calls = {
            n.func.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        if calls & set(names) and line not in out:
            out.append(line)
    return out[:COUNT]
