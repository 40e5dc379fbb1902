"""The opt-out mention and sender name every marketing SMS carries; transactional SMS get neither.

A marketing body that already mentions how to opt out (STOP, ARRET, "opt out", "désabonner"…,
as a word, any case) is left as written; otherwise the shop's footer for the recipient's locale
is appended on its own line. Where the recipient's country expects the sender to be named
(France by default), the shop's sender name prefixes the body.
"""

from __future__ import annotations

import re

from automations.policy import ShopPolicy

OPT_OUT_MENTION = re.compile(
    r"\b(?:stop|stopall|arr[eê]t|opt[\s-]?out|unsubscribe|d[ée]sabonn\w*|d[ée]sinscri\w*)\b",
    re.IGNORECASE,
)


def has_opt_out(body: str) -> bool:
    return OPT_OUT_MENTION.search(body) is not None


def footer_text(locale: str | None, policy: ShopPolicy) -> str:
    """The footer for a locale ("fr", "fr-CA", "en_US"…), else the shop's locale, else English."""
    texts = policy.footer_texts()
    for candidate in (locale, policy.locale, "en"):
        language = re.split(r"[-_]", candidate or "")[0].lower()
        if language in texts:
            return texts[language]
    return texts["en"]


def sender_prefix(body: str, policy: ShopPolicy, country: str | None) -> str:
    """Prefix the sender name where the country expects it, unless the body already starts so."""
    name = policy.sender_name.strip()
    country = country or policy.default_region
    if not name or country not in policy.sender_name_required:
        return body
    if body.lower().startswith(name.lower()):
        return body
    return f"{name}: {body}"


def apply_footer(
    body: str, locale: str | None, policy: ShopPolicy, marketing: bool, *, country: str | None = None
) -> tuple[str, bool]:
    """Return the body as sent and whether an opt-out footer was added."""
    if not marketing:
        return body, False
    body = sender_prefix(body, policy, country)
    if has_opt_out(body):
        return body, False
    return f"{body.rstrip()}\n{footer_text(locale, policy)}", True
