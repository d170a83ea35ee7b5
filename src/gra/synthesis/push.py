"""``gra push RUN_DIR REPO_ID``: a run's data, card and report to a Hugging Face dataset
repository, in one commit.

The token comes from ``HF_TOKEN`` or the Hub's login cache (``huggingface_hub.get_token``),
never from a flag; it is passed to the Hub client only, never printed, logged or stored.
The files go up as a single commit, so a failure midway leaves the repository as it was.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gra.core.errors import UserError
from gra.synthesis.card import CARD_NAME

PUSH_FORMATS = ("parquet", "jsonl")
PARQUET_PATH = "data/train-00000-of-00001.parquet"
#: besides the data and the card: what a reader of the dataset may want to look at
EXTRA_FILES = ("report.html", "summary.json", "config.yaml", "seeds.jsonl")


@dataclass
class Upload:
    """What a push sends: repository, visibility, and path in the repo -> local file."""

    repo_id: str
    private: bool
    files: dict[str, Path] = field(default_factory=dict)
    url: str = ""


def hub_api(token: str) -> Any:
    """The Hub client (tests replace this function: the Hub is their API boundary)."""
    from huggingface_hub import HfApi

    return HfApi(token=token)


def plan(run_dir: Path, repo_id: str, private: bool, fmt: str, workdir: Path) -> Upload:
    """The files to upload, with the data converted to ``fmt`` in ``workdir`` and a card
    whose ``data_files`` point at it."""
    from gra.io.datasets import load_samples
    from gra.io.formats import write_text_atomic
    from gra.io.parquet import write_parquet_atomic

    if fmt not in PUSH_FORMATS:
        raise UserError(f"must be one of {', '.join(PUSH_FORMATS)}", "format")
    if "/" not in repo_id or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise UserError("give the repository as OWNER/NAME", repo_id)
    for name in ("summary.json", CARD_NAME, "data.jsonl"):
        if not (run_dir / name).is_file():
            raise UserError(
                f"no {name}: push a finished (or stopped) run; write it with gra synth "
                f"--resume {run_dir}",
                str(run_dir),
            )
    up = Upload(repo_id, private)
    data = run_dir / "data.jsonl"
    if fmt == "parquet":
        rows = [s.record for s in load_samples(data)] if data.stat().st_size else []
        write_parquet_atomic(workdir / "train.parquet", rows)
        up.files[PARQUET_PATH] = workdir / "train.parquet"
        data_path = PARQUET_PATH
    else:
        up.files["data.jsonl"] = data
        data_path = "data.jsonl"
    card = (run_dir / CARD_NAME).read_text(encoding="utf-8")
    _, meta_text, body = card.split("---\n", 2)
    meta = yaml.safe_load(meta_text)
    meta["configs"] = [
        {"config_name": "default", "data_files": [{"split": "train", "path": data_path}]}
    ]
    body = body.replace('load_dataset("path/to/', 'load_dataset("').replace(
        f'load_dataset("{run_dir.resolve().name}"', f'load_dataset("{repo_id}"'
    )
    write_text_atomic(
        workdir / CARD_NAME, f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n{body}"
    )
    up.files[CARD_NAME] = workdir / CARD_NAME
    for name in EXTRA_FILES:
        if (run_dir / name).is_file():
            up.files[name] = run_dir / name
    return up


def push(
    run_dir: str | Path, repo_id: str, *, private: bool = False, fmt: str = "parquet"
) -> Upload:
    """Upload the run in ``run_dir`` to the dataset repository ``repo_id`` (created when it
    does not exist) as one commit; returns what was sent and the repository's URL."""
    from huggingface_hub import CommitOperationAdd, get_token

    run_dir = Path(run_dir)
    with tempfile.TemporaryDirectory(prefix="gra-push-") as tmp:
        up = plan(run_dir, repo_id, private, fmt, Path(tmp))
        token = get_token()
        if not token:
            raise UserError(
                "no Hugging Face token: set HF_TOKEN, or log in with `hf auth login`",
                "gra push",
            )
        api = hub_api(token)
        ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(f))
               for p, f in up.files.items()]  # fmt: skip
        try:
            url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            api.create_commit(
                repo_id,
                ops,
                commit_message=f"gra push {run_dir.resolve().name}",
                repo_type="dataset",
            )
        except Exception as e:  # noqa: BLE001 - any Hub or network failure is one line
            if not _is_hub_error(e):
                raise
            raise UserError(
                f"cannot push to the Hugging Face Hub ({type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else 'no detail'}); nothing was uploaded",
                repo_id,
            ) from None
        up.url = str(url)
    return up


def _is_hub_error(e: Exception) -> bool:
    """A failure to reach or use the Hub (offline, refused, HTTP errors), not a bug."""
    if isinstance(e, (OSError, ValueError)):
        return True
    try:
        import httpx
    except ImportError:  # pragma: no cover
        return False
    return isinstance(e, httpx.HTTPError)
