"""What a shop may configure about composing and timing its SMS.

`ShopPolicy()` is the built-in default policy (a French shop). A shop's stored settings are a
JSON-able dict read by `ShopPolicy.from_settings` and written back by `to_settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DEFAULT_FOOTERS = {
    "fr": "Répondez STOP pour vous désabonner",
    "en": "Reply STOP to opt out",
}
SHORT_CODE_FOOTERS = {
    "fr": "STOP au {short_code}",
    "en": "Reply STOP to {short_code} to opt out",
}


@dataclass(frozen=True)
class SendWindow:
    """Local hours [start, end) on the given weekdays (0 = Monday … 6 = Sunday)."""

    start: time
    end: time
    days: frozenset[int] = frozenset(range(7))
    no_public_holidays: bool = False

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError(f"window start {self.start:%H:%M} is not before end {self.end:%H:%M}")
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("window days must be a non-empty subset of mon…sun")

    def narrowed_by(self, other: SendWindow) -> SendWindow:
        """The part of this window that `other` also allows (a shop can only narrow)."""
        return SendWindow(
            start=max(self.start, other.start),
            end=min(self.end, other.end),
            days=self.days & other.days,
            no_public_holidays=self.no_public_holidays or other.no_public_holidays,
        )

    def label(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"

    def to_settings(self) -> dict[str, Any]:
        return {
            "start": f"{self.start:%H:%M}",
            "end": f"{self.end:%H:%M}",
            "days": [DAY_NAMES[d] for d in sorted(self.days)],
            "no_public_holidays": self.no_public_holidays,
        }

    @classmethod
    def from_settings(cls, value: Any) -> SendWindow:
        if not isinstance(value, dict):
            raise ValueError("must be an object with start, end and days")
        try:
            start = time.fromisoformat(str(value["start"]))
            end = time.fromisoformat(str(value["end"]))
        except (KeyError, ValueError) as exc:
            raise ValueError("start and end must be HH:MM") from exc
        raw_days = value.get("days", list(DAY_NAMES))
        if not isinstance(raw_days, list):
            raise ValueError("days must be a list such as ['mon', 'tue']")
        days = set()
        for day in raw_days:
            name = str(day).lower()[:3]
            if name not in DAY_NAMES:
                raise ValueError(f"unknown day {day!r}")
            days.add(DAY_NAMES.index(name))
        return cls(start, end, frozenset(days), bool(value.get("no_public_holidays", False)))


MON_TO_SAT = frozenset(range(6))


@dataclass
class ShopPolicy:
    """Everything shop-configurable that message composition needs."""

    default_region: str = "FR"  # region assumed for numbers written without +country code
    timezone: str = "Europe/Paris"
    locale: str = "fr"
    sender_name: str = ""  # brand shown as prefix where the country expects the sender named
    short_code: str | None = None  # e.g. "36111"
    opt_out_footers: dict[str, str] = field(default_factory=dict)  # locale -> text override
    sender_name_required: list[str] = field(default_factory=lambda: ["FR"])
    default_window: SendWindow = SendWindow(time(8), time(20), MON_TO_SAT)
    window_overrides: dict[str, SendWindow] = field(default_factory=dict)  # country -> window
    hold_transactional_in_window: bool = False
    marketing_cap_24h: int | None = 1  # None: no cap
    marketing_cap_7d: int | None = 4
    smart_encoding: bool = False
    prices: dict[str, Decimal] = field(default_factory=dict)  # country or "default" -> per segment
    currency: str = "EUR"
    public_url: str | None = None  # where short links live: <public_url>/l/<code>

    def footer_texts(self) -> dict[str, str]:
        """Opt-out footer per locale: built-in ones (short code aware) under the shop's overrides."""
        if self.short_code:
            texts = {k: v.format(short_code=self.short_code) for k, v in SHORT_CODE_FOOTERS.items()}
        else:
            texts = dict(DEFAULT_FOOTERS)
        texts.update(self.opt_out_footers)
        return texts

    def to_settings(self) -> dict[str, Any]:
        return {
            "default_region": self.default_region,
            "timezone": self.timezone,
            "locale": self.locale,
            "sender_name": self.sender_name,
            "short_code": self.short_code,
            "opt_out_footers": dict(self.opt_out_footers),
            "sender_name_required": list(self.sender_name_required),
            "default_window": self.default_window.to_settings(),
            "window_overrides": {k: w.to_settings() for k, w in self.window_overrides.items()},
            "hold_transactional_in_window": self.hold_transactional_in_window,
            "marketing_cap_24h": self.marketing_cap_24h,
            "marketing_cap_7d": self.marketing_cap_7d,
            "smart_encoding": self.smart_encoding,
            "prices": {k: str(v) for k, v in self.prices.items()},
            "currency": self.currency,
            "public_url": self.public_url,
        }

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> ShopPolicy:
        """Read stored settings; unknown keys are ignored, a bad value raises ValueError naming it."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in (settings or {}).items():
            if key not in known:
                continue
            try:
                values[key] = _PARSERS[key](raw)
            except (ValueError, TypeError, InvalidOperation) as exc:
                raise ValueError(f"invalid setting {key}: {exc}") from exc
        policy = cls(**values)
        for country, window in policy.window_overrides.items():
            _check_override(country, window)
        return policy


# The law's windows by recipient country; a shop may narrow them, never widen them.
LEGAL_WINDOWS = {
    "FR": SendWindow(time(8), time(20), MON_TO_SAT, no_public_holidays=True),
    "US": SendWindow(time(8), time(21)),
}


def _check_override(country: str, window: SendWindow) -> None:
    legal = LEGAL_WINDOWS.get(country)
    if legal is not None:
        try:
            legal.narrowed_by(window)
        except ValueError as exc:
            raise ValueError(
                f"invalid setting window_overrides: {country} leaves no time inside the legal "
                f"window {legal.label()}"
            ) from exc


def _region(value: Any) -> str:
    text = str(value).upper()
    if len(text) != 2 or not text.isalpha():
        raise ValueError(f"{value!r} is not a two-letter country code")
    return text


def _zone(value: Any) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return str(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value in (None, "") else _text(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _cap(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a non-negative integer or null")
    return value


def _currency(value: Any) -> str:
    text = _text(value).upper()
    if len(text) != 3 or not text.isalpha():
        raise ValueError(f"{value!r} is not a three-letter currency code")
    return text


def _texts(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError("must be an object of locale -> text")
    return {str(k).lower(): _text(v) for k, v in value.items()}


def _regions(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError("must be a list of country codes")
    return [_region(v) for v in value]


def _overrides(value: Any) -> dict[str, SendWindow]:
    if not isinstance(value, dict):
        raise ValueError("must be an object of country -> window")
    return {_region(k): SendWindow.from_settings(v) for k, v in value.items()}


def _prices(value: Any) -> dict[str, Decimal]:
    if not isinstance(value, dict):
        raise ValueError("must be an object of country -> price per segment")
    prices = {}
    for key, raw in value.items():
        if isinstance(raw, bool | float):
            raise ValueError(f"price for {key} must be a string or integer, not {raw!r}")
        price = Decimal(str(raw))
        if not price.is_finite() or price < 0:
            raise ValueError(f"price for {key} must be a non-negative number")
        prices["default" if key == "default" else _region(key)] = price
    return prices


_PARSERS = {
    "default_region": _region,
    "timezone": _zone,
    "locale": lambda v: _text(v).lower(),
    "sender_name": _text,
    "short_code": _optional_text,
    "opt_out_footers": _texts,
    "sender_name_required": _regions,
    "default_window": SendWindow.from_settings,
    "window_overrides": _overrides,
    "hold_transactional_in_window": _bool,
    "marketing_cap_24h": _cap,
    "marketing_cap_7d": _cap,
    "smart_encoding": _bool,
    "prices": _prices,
    "currency": _currency,
    "public_url": lambda v: None if v in (None, "") else _text(v).rstrip("/"),
}
