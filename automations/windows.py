"""Send windows by recipient: when a marketing SMS may reach someone, in their own time.

The recipient's country and time zone come from their number. France: Monday–Saturday
08:00–20:00, never on Sundays or public holidays; United States: 08:00–21:00 every day;
elsewhere the shop's default window. A shop may narrow these, never widen the legal ones.
When a number may be in several zones the window must hold in every one of them.
A message outside its window is deferred to the next opening, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import phonenumbers
from phonenumbers import timezone as phone_timezone

from automations.policy import LEGAL_WINDOWS, SendWindow, ShopPolicy

DAY_LABELS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOLIDAY_LANGUAGE = {"FR": "fr"}
_HORIZONS_DAYS = (10, 400)


@dataclass(frozen=True)
class WindowDecision:
    send_at: datetime  # aware, in the recipient's zone
    deferred_reason: str | None  # why send_at is later than asked, None when it is not
    country: str | None
    timezone: str


@lru_cache(maxsize=16384)
def parse_phone(raw: str, default_region: str) -> phonenumbers.PhoneNumber:
    """Parse a number (E.164 or national in `default_region`); ValueError if it is not valid.
    Remembered: each message parses its recipient's number twice (window, composition), and a
    batch of events often writes to the same people. The result is shared: read it only."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"invalid phone number: {raw!r} ({exc})") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"invalid phone number: {raw!r}")
    return number


def window_for(country: str | None, policy: ShopPolicy) -> SendWindow:
    """The window that applies in `country`: the legal one narrowed by the shop, or the shop's."""
    override = policy.window_overrides.get(country or "")
    legal = LEGAL_WINDOWS.get(country or "")
    if legal is None:
        return override or policy.default_window
    return legal.narrowed_by(override) if override else legal


def recipient_zones(number: phonenumbers.PhoneNumber, policy: ShopPolicy) -> tuple[str, ...]:
    """Candidate time zones of a number, as phonenumbers knows them; the shop's when unknown."""
    zones = []
    for name in phone_timezone.time_zones_for_number(number):
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        zones.append(name)
    if not zones:
        return (policy.timezone,)
    if policy.timezone in zones:  # the shop's own zone first: the natural one to show
        zones.remove(policy.timezone)
        zones.insert(0, policy.timezone)
    return tuple(zones)


def next_send_time(
    phone_e164: str | None, at: datetime, policy: ShopPolicy, marketing: bool
) -> WindowDecision:
    """When a message asked for `at` may go out to this recipient, and why later if it is later.

    Without a number the recipient is assumed in the shop's region and time zone.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be a timezone-aware datetime")
    if phone_e164:
        number = parse_phone(phone_e164, policy.default_region)
        country = phonenumbers.region_code_for_number(number)
        zones = recipient_zones(number, policy)
        rules_country = country
    else:
        country, zones, rules_country = None, (policy.timezone,), policy.default_region
    shown = ZoneInfo(zones[0])
    if not marketing and not policy.hold_transactional_in_window:
        return WindowDecision(at.astimezone(shown), None, country, zones[0])
    window = window_for(rules_country, policy)
    reason = _first_closed_reason(at, zones, window, rules_country)
    if reason is None:
        return WindowDecision(at.astimezone(shown), None, country, zones[0])
    send_at = _next_opening(at, zones, window, rules_country)
    if send_at is None:  # no instant open in every candidate zone: go by the first one
        send_at = _next_opening(at, zones[:1], window, rules_country)
    if send_at is None:
        raise ValueError(f"send window {window.label()} for {rules_country} never opens")
    return WindowDecision(send_at.astimezone(shown), reason, country, zones[0])


def closed_reason(local: datetime, window: SendWindow, country: str | None) -> str | None:
    """Why the window is closed at this local time, or None when it is open."""
    if window.no_public_holidays and country:
        name = _holidays(country, local.year).get(local.date())
        if name:
            return f"public holiday: {name}"
    if local.weekday() not in window.days:
        return DAY_LABELS[local.weekday()]
    if not window.start <= local.time() < window.end:
        return f"outside {window.label()} {local.tzinfo}"
    return None


def _first_closed_reason(
    at: datetime, zones: tuple[str, ...], window: SendWindow, country: str | None
) -> str | None:
    for zone in zones:
        reason = closed_reason(at.astimezone(ZoneInfo(zone)), window, country)
        if reason:
            return reason
    return None


def _next_opening(
    at: datetime, zones: tuple[str, ...], window: SendWindow, country: str | None
) -> datetime | None:
    """Earliest instant after `at` open in every zone: necessarily some zone's window opening."""
    for horizon in _HORIZONS_DAYS:
        openings: list[datetime] = []
        last_per_zone = []
        for zone in zones:
            tz = ZoneInfo(zone)
            first_day = at.astimezone(tz).date()
            days = [first_day + timedelta(days=n) for n in range(horizon + 1)]
            zone_openings = [_opening(day, window.start, tz) for day in days]
            openings.extend(o for o in zone_openings if o > at)
            last_per_zone.append(zone_openings[-1])
        complete_until = min(last_per_zone)
        for candidate in sorted(openings):
            if candidate > complete_until:
                break
            if _first_closed_reason(candidate, zones, window, country) is None:
                return candidate
    return None


def _opening(day: date, start: time, tz: ZoneInfo) -> datetime:
    # Round-trip through UTC so a start inside a DST gap lands on a real instant.
    return datetime.combine(day, start, tzinfo=tz).astimezone(ZoneInfo("UTC")).astimezone(tz)


@lru_cache(maxsize=128)
def _holidays(country: str, year: int) -> dict[date, str]:
    try:
        table = holidays.country_holidays(
            country, years=year, language=HOLIDAY_LANGUAGE.get(country)
        )
    except NotImplementedError:
        return {}
    return dict(table)
