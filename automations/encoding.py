"""SMS encoding and segment counting, exactly as carriers bill it.

GSM-7 (3GPP TS 23.038 basic set + extension table): 160 septets in one SMS, 153 per part once a
message is split; characters of the extension table cost two septets (escape + char). One
character outside GSM-7 turns the whole message into UCS-2: 70 UTF-16 code units in one SMS,
67 per part; characters outside the Basic Multilingual Plane (most emoji) cost two units. A
two-unit character (GSM escape pair or UTF-16 surrogate pair) is never split across parts.

An empty body counts as one segment: an SMS always travels as at least one message and
providers that accept an empty body bill it as one (others, such as Twilio, refuse it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
SINGLE_LIMIT = {GSM7: 160, UCS2: 70}
PART_LIMIT = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" | "UCS-2"
    segments: int
    characters: int  # code points
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    non_gsm_characters: list[str]  # sorted, unique
    parts: list[str]  # the text of each segment, in order


def is_gsm7(char: str) -> bool:
    return char in GSM7_BASIC or char in GSM7_EXTENSION


def unit_cost(char: str, encoding: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) one character takes."""
    if encoding == GSM7:
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def analyse(text: str) -> SegmentInfo:
    """Encoding, segment count and the actual parts of `text` as it would be sent."""
    non_gsm = sorted({c for c in text if not is_gsm7(c)})
    encoding = UCS2 if non_gsm else GSM7
    costs = [unit_cost(c, encoding) for c in text]
    units = sum(costs)
    if units <= SINGLE_LIMIT[encoding]:
        parts = [text]
    else:
        parts = _split(text, costs, PART_LIMIT[encoding])
    return SegmentInfo(encoding, len(parts), len(text), units, non_gsm, parts)


def _split(text: str, costs: list[int], limit: int) -> list[str]:
    parts: list[str] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > limit:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    return parts


# Typographic characters word processors and phones insert, and their GSM-7 stand-ins.
# Letters are never touched: â ê î ô û ë ï ç œ keep the message in UCS-2 if present.
SMART_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u2039": "'", "\u203a": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\u2022": "-",
    "\u2026": "...",
    "\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " ", "\u200a": " ",
    "\u2002": " ", "\u2003": " ", "\u2004": " ", "\u2005": " ", "\u2006": " ",
    "\u2008": " ", "\u205f": " ", "\u3000": " ", "\t": " ",
    "\u2028": "\n", "\u2029": "\n",
    "\u200b": "", "\u00ad": "", "\u2060": "", "\ufeff": "",
}
_SPACES = "[ \u00a0\u202f\u2009\u2007]"
_GUILLEMET_OPEN = re.compile(f"\u00ab{_SPACES}?")
_GUILLEMET_CLOSE = re.compile(f"{_SPACES}?\u00bb")
_TABLE = str.maketrans(SMART_REPLACEMENTS)


def smart_encode(text: str) -> str:
    """Replace typographic punctuation and spaces with GSM-7 equivalents; letters stay as they are.

    French guillemets lose the (non-breaking) space inside them: « Bonjour » -> "Bonjour".
    """
    text = _GUILLEMET_OPEN.sub('"', text)
    text = _GUILLEMET_CLOSE.sub('"', text)
    return text.translate(_TABLE)
