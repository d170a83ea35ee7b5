"""The labeled pairs gra's default verdict is fitted on.

    .venv/bin/python benchmarks/data/calibration_set.py          # writes calibration_fit.jsonl
    .venv/bin/python benchmarks/data/calibration_set.py --check  # exit 1 if it is stale

``calibration_fit.jsonl`` holds the ``dev`` rows of the three real-output sets
(real_outputs*.jsonl): what the embedded generators really write, which is what the verdict
judges in ``gra synth``. The real-output ``test`` rows and the hand-made review dev set
(review_dev.jsonl) are left out of the fit; benchmarks/review_quality.py scores the fitted
verdict on them.

Each line: id (prefixed with the file it came from), instruction, input, response, label
(good/bad), kind, finish_reason. ``gra calibrate calibration_fit.jsonl`` reads it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "calibration_fit.jsonl"
REAL = ("real_outputs.jsonl", "real_outputs_evolve.jsonl", "real_outputs_qwen.jsonl")
FIELDS = ("id", "instruction", "input", "response", "label", "kind", "finish_reason")


def build() -> str:
    lines = []
    for name in REAL:
        for x in (HERE / name).read_text(encoding="utf-8").splitlines():
            r = json.loads(x)
            if r["split"] == "dev":
                line = {k: r.get(k, "") for k in FIELDS} | {"id": f"{name[:-6]}:{r['id']}"}
                lines.append(json.dumps(line, ensure_ascii=False) + "\n")
    return "".join(lines)


def main() -> int:
    text = build()
    if "--check" in sys.argv:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT.name} is stale: run benchmarks/data/calibration_set.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    rows = [json.loads(x) for x in text.splitlines()]
    print(f"{OUT.name}: {len(rows)} pairs, {sum(r['label'] == 'good' for r in rows)} good")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
