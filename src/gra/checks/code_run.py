"""Python answers, run: a response's fenced Python code is executed, with whatever calls,
prints and asserts the response itself writes, in a subprocess; an exception (a failing
assert, a NameError, a TypeError, ...) flags the pair.

The subprocess runs in a fresh temporary directory that is removed afterwards, with no
stdin, a CPU-time, memory and file-size limit and a wall-clock timeout, under an audit
hook (``sys.addaudithook``) that refuses, before it happens, any network connection, any
new process, and any file written, removed or renamed outside that directory. Code that
hits one of these limits, needs a package that is not installed, waits for input or reads
a file that is not there cannot be judged, and passes: only an error the code raises on its
own flags it. No model is asked for tests: code with only definitions and no calls passes,
and so does a snippet (no function or class of its own) naming a variable it never sets.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile

from gra.checks.base import Sample
from gra.checks.text import python_blocks

TIMEOUT_S = 5.0
MEMORY_BYTES = 1 << 30
CPU_S = 5
FILE_BYTES = 10 << 20

# runs before the answer's code: refuse what could reach outside the temp directory
_GUARD = r"""
import os as _os, sys as _sys
_HOME = _os.path.realpath(_os.getcwd())
class SandboxRefused(Exception):
    pass
def _inside(path):
    try:
        p = _os.path.realpath(_os.fsdecode(path))
    except Exception:
        return True
    return p == _HOME or p.startswith(_HOME + _os.sep) or p.startswith("/dev/null")
def _hook(event, args):
    if event in ("socket.connect", "socket.bind", "socket.getaddrinfo", "subprocess.Popen",
                 "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                 "os.forkpty", "os.kill", "ctypes.dlopen", "shutil.rmtree"):
        raise SandboxRefused(event)
    if event == "open":
        mode, flags = args[1], args[2] if len(args) > 2 else 0
        writes = (any(c in str(mode) for c in "wax+") if mode is not None else
                  bool(flags & (_os.O_WRONLY | _os.O_RDWR | _os.O_CREAT | _os.O_APPEND)))
        if writes and not isinstance(args[0], int) and not _inside(args[0]):
            raise SandboxRefused("open for writing: %s" % (args[0],))
    if event in ("os.remove", "os.rmdir", "os.rename", "os.chmod", "os.chown", "os.mkdir",
                 "os.symlink", "os.link", "os.truncate", "os.utime"):
        if not all(_inside(a) for a in args[:2] if isinstance(a, (str, bytes, _os.PathLike))):
            raise SandboxRefused(event)
_sys.dont_write_bytecode = True
_sys.addaudithook(_hook)
del _hook
"""

# exceptions that say nothing about the code's correctness here
_UNJUDGED = (
    "SandboxRefused",
    "ModuleNotFoundError",
    "ImportError",
    "EOFError",
    "FileNotFoundError",
    "PermissionError",
    "OSError",
    "ConnectionError",
    "MemoryError",
    "KeyboardInterrupt",
    "SystemExit",
    "TimeoutError",
)
_LAST_ERROR = re.compile(r"^(\w+(?:\.\w+)*)(?::\s*(.*))?$")


def _limits() -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_S, CPU_S))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))


def run_python(code: str, timeout_s: float = TIMEOUT_S) -> tuple[str, str]:
    """Run ``code`` sandboxed: ("ok" | "error" | "unjudged", detail)."""
    outcome, detail, _ = _run(code, timeout_s)
    return outcome, detail


def run_tests(code: str, asserts: list[str], timeout_s: float = TIMEOUT_S) -> list[str]:
    """Run ``code``, then each assert line on its own, sandboxed: per assert "pass", "fail"
    (AssertionError) or "error: NAME" (the assert itself raised, e.g. it called a function
    with arguments it does not take); all "unjudged: ..." when the code alone does not run
    to its end."""
    script = code + "\n\n_gra_results = []\n"
    for line in asserts:
        script += (
            f"try:\n    {line}\n    _gra_results.append('pass')\n"
            "except AssertionError:\n    _gra_results.append('fail')\n"
            "except Exception as _e:\n    _gra_results.append('error: ' + type(_e).__name__)\n"
        )
    script += "print('\\n' + _GRA_MARK + repr(_gra_results))\n"
    outcome, detail, out = _run(f"_GRA_MARK = {_MARK!r}\n" + script, timeout_s)
    if outcome != "ok":
        return [f"unjudged: {detail or outcome}"] * len(asserts)
    found = out.rsplit(_MARK, 1)
    try:
        results = ast.literal_eval(found[1].strip()) if len(found) == 2 else None
    except (ValueError, SyntaxError):
        results = None
    if not isinstance(results, list) or len(results) != len(asserts):
        return ["unjudged: no results"] * len(asserts)
    return [str(r) for r in results]


_MARK = "@@gra-tests@@"


def _run(code: str, timeout_s: float) -> tuple[str, str, str]:
    """Run ``code`` sandboxed: (outcome, detail, its stdout)."""
    with tempfile.TemporaryDirectory(prefix="gra-code-") as tmp:
        path = os.path.join(tmp, "answer.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        runner = _GUARD + f"\n__file__ = {path!r}\nexec(compile(open(__file__).read(), "
        runner += "__file__, 'exec'), {'__name__': '__main__', '__file__': __file__})\n"
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "PYTHONHASHSEED": "0"}
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-B", "-c", runner],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout_s,
                preexec_fn=_limits if os.name == "posix" else None,
            )
        except subprocess.TimeoutExpired:
            return "unjudged", f"still running after {timeout_s:g} s", ""
    stdout = proc.stdout.decode("utf-8", "replace")
    if proc.returncode == 0:
        return "ok", "", stdout
    tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    m = _LAST_ERROR.match(tail[-1]) if tail else None
    if proc.returncode < 0 or not m:
        return "unjudged", f"exit {proc.returncode}", stdout
    name = m.group(1).rsplit(".", 1)[-1]
    if name in _UNJUDGED:
        return "unjudged", name, stdout
    return "error", f"{name}: {m.group(2) or ''}".strip().rstrip(":"), stdout


def code_runs(s: Sample) -> str | None:
    """The response's Python code, run as written, raises an error (see module doc)."""
    sources = [src for src in python_blocks(s) if _parses(src)]
    if not sources:
        return None
    code = "\n\n".join(sources)
    outcome, detail = run_python(code)
    if outcome == "error" and detail.startswith("NameError") and not _defines(code):
        return None  # a snippet over the task's own variables ("result = [... in words]")
    if outcome == "error":
        return f"the Python code fails when run: {detail[:160]}"
    return None


def _defines(code: str) -> bool:
    """Whether the code defines a function or class (is a program, not a snippet)."""
    tree = ast.parse(code)
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body
    )


def _parses(src: str) -> bool:
    try:
        ast.parse(src)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


CHECKS = {"code_runs": code_runs}
DESCRIPTIONS = {
    "code_runs": "the response's Python code, run in a sandboxed subprocess with its own "
    "calls and asserts, raises an error",
}
