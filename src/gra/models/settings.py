"""How one model runs: its backend and that backend's knobs (the ``models:`` section of a
config, one entry per name)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ModelSettings:
    backend: str = "embedded"  # embedded (llama.cpp in-process) | openai (any /v1 server)
    # requests in flight at once; embedded: sequences decoded together in one batch
    # (0 = auto: measured once on this machine, gra.models.cpu_probe; docs/backends.md)
    concurrency: int = 1
    # embedded
    source: str = ""  # registry name, path to a .gguf, or hf:OWNER/REPO/FILE
    n_ctx: int = 4096  # per sequence
    n_threads: int = 0  # 0 = all cores
    flash_attn: bool = True  # llama.cpp flash attention: faster decoding on CPU too
    # weight type the embedded backend runs: auto (the fastest measured on this machine:
    # the shipped file, and for Q4_1, which has no batched CPU kernel, bf16 and q8_0
    # copies) | shipped | bf16 | f16 | q8_0 (converted once into the cache dir;
    # docs/backends.md)
    weights: str = "auto"
    # llama.cpp's extra buffer types (AMX tiles, repacked weights): auto (on, unless the
    # model crashes with them on this CPU or off measures >5% faster) | on | off
    extra_buffers: str = "auto"
    # openai
    base_url: str = ""  # e.g. http://127.0.0.1:8000/v1
    model: str = ""  # the server's name for the model [default: the name in models:]
    api_key_env: str = ""  # environment variable holding the API key (never stored)
    timeout_s: float = 120.0  # per request
    max_retries: int = 4  # on 429, 5xx, timeouts, refused connections, broken bodies
    retry_backoff_s: float = 1.0  # first backoff; doubles per try, full jitter, capped at 30 s
    down_after: int = 3  # calls failing in a row (after retries) that stop the run
    # json_schema | json_object | guided_json | none | auto (try them in that order)
    structured_output: str = "auto"
