"""Commands that read `-`: one JSON string per line on stdin, one JSON object per line out."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

import click


def answer_each_line(answer: Callable[[str], dict[str, Any]], stream: TextIO | None = None) -> None:
    """Print `answer(text)` for each JSON string line; a bad line prints its error and the command
    then exits 1 (after answering every other line). `answer` raises ValueError for bad input and
    may attach field-keyed `messages` to it."""
    failed = False
    for number, line in enumerate(stream or sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, str):
                raise ValueError("each line must be a JSON string")
            out = answer(item)
        except ValueError as exc:
            failed = True
            out = {"line": number, "error": "invalid",
                   "messages": getattr(exc, "messages", None) or {"line": [str(exc)]}}
        click.echo(json.dumps(out, ensure_ascii=False))
    if failed:
        sys.exit(1)
