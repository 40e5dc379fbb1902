"""A rule's steps as a program (send, wait, branch, jump), and the durations its waits are
written in."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

DEFAULT_ABANDON_AFTER = "1h"
_DURATION = re.compile(r"^\s*(?:(\d+)\s*w)?\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")


def parse_duration(text: str) -> timedelta:
    """'90m', '1h', '24h', '3d', '1d12h', '2w' -> timedelta; ValueError otherwise."""
    match = _DURATION.match(str(text)) if text else None
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 1h, 3d, 1d12h, 2w)")
    weeks, days, hours, minutes = (int(g or 0) for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


def compile_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten steps into ops: send, wait (seconds), branch (jump to `else` when false), jump."""
    program: list[dict[str, Any]] = []

    def emit(items: list[dict[str, Any]]) -> None:
        for step in items:
            if step["type"] == "send":
                program.append({"op": "send", "step": step})
            elif step["type"] == "wait":
                program.append({"op": "wait", "seconds": parse_duration(step["duration"]).total_seconds()})
            else:
                branch = {"op": "branch", "if": step.get("if", step.get("condition")), "else": 0}
                program.append(branch)
                emit(step.get("then", []))
                jump = {"op": "jump", "to": 0}
                program.append(jump)
                branch["else"] = len(program)
                emit(step.get("else", step.get("otherwise", [])))
                jump["to"] = len(program)

    emit(steps)
    return program
