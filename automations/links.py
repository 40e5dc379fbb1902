"""Links in SMS bodies: find them, tag them with UTM parameters, swap them for short links.

Storage is not done here: the caller passes `shorten(url) -> short_url`, which records the link
and returns `<public_url>/l/<code>` (see `short_link` and `new_code`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_URL = re.compile(r"https?://[^\s<>\"«»“”]+", re.IGNORECASE)
_TRAILING = ".,;:!?'’\")]}"
_PAIRS = {")": "(", "]": "[", "}": "{"}


def _spans(body: str) -> list[tuple[int, int]]:
    spans = []
    for match in _URL.finditer(body):
        start, end = match.span()
        while end > start and body[end - 1] in _TRAILING:
            closing = body[end - 1]
            opening = _PAIRS.get(closing)
            url = body[start:end]
            if opening and url.count(opening) >= url.count(closing):
                break  # a balanced bracket belongs to the URL, as in Wikipedia links
            end -= 1
        if body[start:end].split("://", 1)[1]:  # something after the scheme
            spans.append((start, end))
    return spans


def find_urls(body: str) -> list[str]:
    """Every http(s) URL in the body, in order, without the punctuation that follows it."""
    return [body[start:end] for start, end in _spans(body)]


def add_utm(
    url: str, source: str = "parlons", medium: str = "sms", campaign: str | None = None
) -> str:
    """Add utm_source/medium/campaign, keeping every existing query parameter (and any utm_ set)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    for key, value in (("utm_source", source), ("utm_medium", medium), ("utm_campaign", campaign)):
        if value and key not in present:
            query.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def rewrite_links(
    body: str, shorten: Callable[[str], str], *, skip_prefixes: Iterable[str] = ()
) -> tuple[str, list[tuple[str, str]]]:
    """Replace each URL by `shorten(url)`; each distinct URL is shortened once.

    URLs starting with one of `skip_prefixes` (already short links) are left alone.
    Returns the new body and the (original, short) pairs in order of first appearance.
    """
    skip = tuple(p for p in skip_prefixes if p)
    shortened: dict[str, str] = {}
    pieces = []
    last = 0
    for start, end in _spans(body):
        url = body[start:end]
        if skip and url.startswith(skip):
            continue
        if url not in shortened:
            shortened[url] = shorten(url)
        pieces += [body[last:start], shortened[url]]
        last = end
    pieces.append(body[last:])
    return "".join(pieces), list(shortened.items())


def new_code() -> str:
    """A random, URL-safe code of 8 characters (48 bits) for a short link."""
    return secrets.token_urlsafe(6)


def short_link(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/l/{code}"
