"""No personal data in logs: phone numbers, email addresses and secrets are masked in every log
record of the process, whoever logs it (Parlons, gunicorn, RQ, the provider SDKs).

Masking happens when a record is made (a log record factory), so every handler and formatter,
including ones installed later by gunicorn or RQ, only ever sees the masked text. A phone keeps
its first digits and last two (`+336••••••78`), an email its first letter and domain
(`c•••@example.com`), a secret its kind (`shpat_•••`).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable

_SECRETS = re.compile(
    r"\b(?P<kind>shp(?:at|ca|pa|ss)_|pat-(?:na|eu)\d+-|Bearer\s+|Basic\s+|gAAAAA)"
    r"[A-Za-z0-9_\-=+/.]{6,}"
)
_EMAIL = re.compile(r"\b([A-Za-z0-9])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})\b")
# International numbers (E.164 with optional spacing) and French national mobile/landline forms.
_PHONE = re.compile(
    r"(?<![\w+])((?:\+|%2B)\d{1,3})[\s.\-]?((?:\(?\d\)?[\s.\-]?){4,12})(\d{2})(?!\d)"
    r"|(?<![\w+])0[1-9](?:[\s.\-]?\d{2}){3}[\s.\-]?(\d{2})(?!\d)"
)


def _phone(match: re.Match[str]) -> str:
    if match.group(1):
        hidden = sum(ch.isdigit() for ch in match.group(2))
        return f"{match.group(1)}{'•' * hidden}{match.group(3)}"
    return "0" + "•" * 7 + match.group(4)


def mask(text: str) -> str:
    """`text` with phones, emails and secrets masked."""
    text = _SECRETS.sub(lambda m: f"{m.group('kind')}•••", text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}•••@{m.group(2)}", text)
    return _PHONE.sub(_phone, text)


_installed: Callable[..., logging.LogRecord] | None = None


def install_masking() -> None:
    """Mask every log record made in this process from now on (idempotent)."""
    global _installed
    if _installed is not None:
        return
    make = logging.getLogRecordFactory()

    def masked_record(*args, **kwargs) -> logging.LogRecord:  # noqa: ANN002, ANN003 - as logging calls it
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's to report, not ours
            return record
        record.msg, record.args = mask(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return record

    logging.setLogRecordFactory(masked_record)
    _installed = masked_record
