"""Cheap checks: reasons to reject a candidate before any reviewer tokens are spent."""

from __future__ import annotations

from ..backends.base import ChatResponse


def response_problem(instruction: str, response: str, reply: ChatResponse) -> str | None:
    """A named reason, or None when the pair may go on to review."""
    if reply.finish_reason == "error":
        return "response_error"
    if not response.strip():
        return "empty_response"
    if reply.finish_reason == "length":
        return "truncated"
    if response.strip().casefold() == instruction.strip().casefold():
        return "response_repeats_instruction"
    return None
