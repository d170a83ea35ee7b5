"""From a model's settings to a loaded backend: the id that names the exact weights (part
of every cache key), the file the embedded backend loads, and the ``auto`` knobs measured
on this machine (``gra.models.cpu_probe``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from gra.core.registry import Registry
from gra.models.backends.base import Backend
from gra.models.registry import cache_dir, resolve, source_id
from gra.models.settings import ModelSettings
from gra.models.weights import converted


def model_id(settings: ModelSettings) -> str:
    """Names the exact model, without loading it (part of every cache key): the
    source, plus ``+TYPE`` when the embedded backend runs converted weights."""
    if settings.backend != "embedded":  # a server: its URL and its name for the model
        return f"{settings.backend}:{settings.base_url.rstrip('/')}:{settings.model}"
    target = weight_type(settings)
    return source_id(settings.source) + ("" if target == "shipped" else f"+{target}")


def weight_type(settings: ModelSettings) -> str:
    """``shipped`` or the type the embedded backend converts the weights to (``auto``:
    the fastest measured on this machine, ``gra.models.cpu_probe``)."""
    if settings.weights != "auto":
        return settings.weights
    return tuned(settings).weights


def model_path(settings: ModelSettings) -> Path:
    """The GGUF file the embedded backend loads: the source, converted once if asked."""
    path = resolve(settings.source)
    target = weight_type(settings)
    if target == "shipped":
        return path
    return converted(path, target, source_id(settings.source), cache_dir())


def tuned(settings: ModelSettings, name: str | None = None) -> ModelSettings:
    """``settings`` of an embedded model with every ``auto`` knob (weights, extra
    buffer types, concurrency 0) replaced by what ``gra.models.cpu_probe`` measured on this
    machine -- and the combination run once, so a CPU that crashes llama.cpp is one
    line here, not a dead process later. Server models are returned as they are."""
    if settings.backend != "embedded":
        return settings
    from gra.models.cpu_probe import choose

    c = choose(name or settings.source, settings)
    return replace(
        settings,
        weights=c.weights,
        extra_buffers="on" if c.extra_buffers else "off",
        concurrency=c.concurrency,
    )


def untuned(settings: ModelSettings, name: str | None = None) -> ModelSettings:
    """``auto`` knobs set without measuring (the shipped file, extra buffer types on,
    8 sequences): for pools whose loader is not gra's (tests' fake models)."""
    if settings.backend != "embedded":
        return settings
    return replace(
        settings,
        weights="shipped" if settings.weights == "auto" else settings.weights,
        extra_buffers="on" if settings.extra_buffers == "auto" else settings.extra_buffers,
        concurrency=settings.concurrency or 8,
    )


def _has_auto(s: ModelSettings) -> bool:
    return s.backend == "embedded" and (
        s.weights == "auto" or s.extra_buffers == "auto" or s.concurrency == 0
    )


#: backends by the name ``models.NAME.backend`` gives: each makes a Backend from the
#: model's settings (its ``auto`` knobs already measured). Register one to add a backend.
BACKENDS: Registry[Callable[[ModelSettings], Backend]] = Registry("backend")


def load_backend(settings: ModelSettings) -> Backend:
    settings = tuned(settings) if _has_auto(settings) else settings
    return BACKENDS.get(settings.backend, f"backend {settings.backend}")(settings)


@BACKENDS.register("openai")
def _openai(settings: ModelSettings) -> Backend:
    """Any OpenAI-compatible /v1 server (vLLM, Ollama, llama.cpp's server, ...)."""
    from gra.models.backends.openai import OpenAIBackend

    return OpenAIBackend(
        settings.model,
        base_url=settings.base_url,
        model=settings.model,
        api_key_env=settings.api_key_env,
        concurrency=settings.concurrency,
        timeout_s=settings.timeout_s,
        max_retries=settings.max_retries,
        retry_backoff_s=settings.retry_backoff_s,
        structured_output=settings.structured_output,
    )


@BACKENDS.register("embedded")
def _embedded(settings: ModelSettings) -> Backend:
    """llama.cpp in this process: the batched backend for more than one sequence."""
    path = model_path(settings)
    if settings.concurrency > 1:
        from gra.models.backends.llama_batch import BatchedLlamaBackend

        return BatchedLlamaBackend(
            model_id(settings),
            path,
            settings.n_ctx,
            settings.n_threads,
            n_parallel=settings.concurrency,
            flash_attn=settings.flash_attn,
            extra_buffers=settings.extra_buffers == "on",
        )
    from gra.models.backends.llama_cpp import LlamaCppBackend

    return LlamaCppBackend(
        model_id(settings),
        path,
        settings.n_ctx,
        settings.n_threads,
        settings.flash_attn,
        extra_buffers=settings.extra_buffers == "on",
    )
