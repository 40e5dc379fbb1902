"""Send windows by recipient: marketing SMS reach people in their own daytime, never dropped."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automations.policy import SendWindow, ShopPolicy
from automations.windows import closed_reason, next_send_time, window_for

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
FR_MOBILE = "+33612345678"
NY_NUMBER = "+12125551234"
LA_NUMBER = "+14155550123"
TOLL_FREE = "+18005551234"
POLICY = ShopPolicy()


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def test_french_number_inside_the_window_goes_at_once():
    # given a Tuesday 10:00 in Paris
    at = paris(2026, 3, 10, 10, 0)
    # when a marketing SMS is asked for a French mobile
    decision = next_send_time(FR_MOBILE, at, POLICY, marketing=True)
    # then it goes now, in the recipient's zone
    assert decision.send_at == at
    assert decision.deferred_reason is None
    assert (decision.country, decision.timezone) == ("FR", "Europe/Paris")
    assert decision.send_at.tzinfo == PARIS


def test_french_evening_is_deferred_to_next_morning_at_eight():
    decision = next_send_time(FR_MOBILE, paris(2026, 3, 10, 20, 0), POLICY, marketing=True)
    assert decision.send_at == paris(2026, 3, 11, 8, 0)
    assert decision.deferred_reason == "outside 08:00–20:00 Europe/Paris"


def test_french_early_morning_waits_until_eight_the_same_day():
    decision = next_send_time(FR_MOBILE, paris(2026, 3, 10, 7, 59), POLICY, marketing=True)
    assert decision.send_at == paris(2026, 3, 10, 8, 0)


def test_french_sunday_waits_for_monday():
    # given Sunday 15 March 2026 at noon
    decision = next_send_time(FR_MOBILE, paris(2026, 3, 15, 12, 0), POLICY, marketing=True)
    assert decision.send_at == paris(2026, 3, 16, 8, 0)
    assert decision.deferred_reason == "Sunday"


def test_saturday_evening_skips_sunday_and_pentecost_monday():
    # given Saturday 23 May 2026 at 21:00; Monday 25 May is Lundi de Pentecôte
    decision = next_send_time(FR_MOBILE, paris(2026, 5, 23, 21, 0), POLICY, marketing=True)
    assert decision.send_at == paris(2026, 5, 26, 8, 0)


def test_french_public_holiday_is_named():
    decision = next_send_time(FR_MOBILE, paris(2026, 12, 25, 11, 0), POLICY, marketing=True)
    assert decision.deferred_reason == "public holiday: Noël"
    assert decision.send_at == paris(2026, 12, 26, 8, 0)
    bastille = next_send_time(FR_MOBILE, paris(2026, 7, 14, 11, 0), POLICY, marketing=True)
    assert bastille.deferred_reason == "public holiday: Fête nationale"


def test_us_window_is_eight_to_nine_pm_every_day_in_recipient_time():
    # given Sunday 22:30 UTC (18:30 in New York, 15:30 in Los Angeles, 2026-03-15 is EDT)
    at = datetime(2026, 3, 15, 22, 30, tzinfo=UTC)
    # then a New Yorker gets it now: Sundays are fine in the US
    ny = next_send_time(NY_NUMBER, at, POLICY, marketing=True)
    assert ny.send_at == at and ny.deferred_reason is None
    assert ny.timezone == "America/New_York" and ny.send_at.tzinfo == NEW_YORK
    # and at 21:00 New York time it waits for 08:00 New York time
    late = next_send_time(NY_NUMBER, datetime(2026, 3, 16, 1, 0, tzinfo=UTC), POLICY, True)
    assert late.send_at == datetime(2026, 3, 16, 8, 0, tzinfo=NEW_YORK)
    assert late.deferred_reason == "outside 08:00–21:00 America/New_York"


def test_same_instant_differs_by_recipient_zone():
    # given 06:00 in Los Angeles = 09:00 in New York
    at = datetime(2026, 6, 2, 13, 0, tzinfo=UTC)
    assert next_send_time(NY_NUMBER, at, POLICY, True).deferred_reason is None
    la = next_send_time(LA_NUMBER, at, POLICY, True)
    assert la.send_at == datetime(2026, 6, 2, 8, 0, tzinfo=LOS_ANGELES)


def test_number_with_several_zones_must_be_inside_the_window_everywhere():
    # given a US toll-free number: phonenumbers cannot tell Guam from Honolulu from New York
    at = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # 11:00 New York, 05:00 Honolulu
    decision = next_send_time(TOLL_FREE, at, POLICY, marketing=True)
    # then it waits until it is between 08:00 and 21:00 in every candidate zone
    assert decision.send_at > at
    for zone in ("America/New_York", "Pacific/Honolulu", "Pacific/Guam", "America/St_Johns"):
        local = decision.send_at.astimezone(ZoneInfo(zone))
        assert time(8) <= local.time() < time(21), zone


def test_elsewhere_uses_the_shop_default_window():
    # given a German number and a shop whose default window is 10:00–18:00 Monday–Friday
    policy = ShopPolicy(default_window=SendWindow(time(10), time(18), frozenset(range(5))))
    berlin = ZoneInfo("Europe/Berlin")
    decision = next_send_time("+4915123456789", datetime(2026, 3, 13, 18, 30, tzinfo=berlin), policy, True)
    # then Friday evening waits for Monday 10:00 Berlin time
    assert decision.send_at == datetime(2026, 3, 16, 10, 0, tzinfo=berlin)
    assert decision.country == "DE" and decision.timezone == "Europe/Berlin"


def test_shop_may_narrow_but_never_widen_the_french_window():
    # given a shop asking 07:00–22:00 every day for France
    wide = ShopPolicy(window_overrides={"FR": SendWindow(time(7), time(22))})
    # then the legal 08:00–20:00 Monday–Saturday still holds
    assert window_for("FR", wide) == window_for("FR", POLICY)
    assert next_send_time(FR_MOBILE, paris(2026, 3, 10, 21, 0), wide, True).send_at == paris(
        2026, 3, 11, 8, 0
    )
    # and a shop asking 10:00–12:00 gets the narrower window
    narrow = ShopPolicy(window_overrides={"FR": SendWindow(time(10), time(12))})
    decision = next_send_time(FR_MOBILE, paris(2026, 3, 10, 12, 0), narrow, True)
    assert decision.send_at == paris(2026, 3, 11, 10, 0)
    assert decision.deferred_reason == "outside 10:00–12:00 Europe/Paris"


def test_transactional_messages_are_not_held_unless_the_shop_asks():
    night = paris(2026, 12, 25, 23, 0)
    decision = next_send_time(FR_MOBILE, night, POLICY, marketing=False)
    assert decision.send_at == night and decision.deferred_reason is None
    held = next_send_time(FR_MOBILE, night, ShopPolicy(hold_transactional_in_window=True), False)
    assert held.send_at == paris(2026, 12, 26, 8, 0)


def test_without_a_number_the_shop_region_and_zone_are_assumed():
    decision = next_send_time(None, paris(2026, 1, 1, 10, 0), POLICY, marketing=True)
    assert decision.country is None and decision.timezone == "Europe/Paris"
    assert decision.deferred_reason == "public holiday: Jour de l'an"
    assert decision.send_at == paris(2026, 1, 2, 8, 0)


def test_national_number_is_read_in_the_shop_region_and_invalid_numbers_are_refused():
    assert next_send_time("06 12 34 56 78", paris(2026, 3, 10, 10), POLICY, True).country == "FR"
    with pytest.raises(ValueError, match="invalid phone number"):
        next_send_time("+33 1", paris(2026, 3, 10, 10), POLICY, True)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        next_send_time(FR_MOBILE, datetime(2026, 3, 10, 10), POLICY, True)


def _assert_open_everywhere(send_at: datetime, country: str, zones: list[str]) -> None:
    window = window_for(country, POLICY)
    for zone in zones:
        assert closed_reason(send_at.astimezone(ZoneInfo(zone)), window, country) is None


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(at=instants, number=st.sampled_from([FR_MOBILE, "+33142685300", NY_NUMBER, LA_NUMBER]))
def test_property_send_time_is_inside_a_window_and_never_early(at, number):
    decision = next_send_time(number, at, POLICY, marketing=True)
    assert decision.send_at >= at
    _assert_open_everywhere(decision.send_at, decision.country, [decision.timezone])
    if decision.deferred_reason is None:
        assert decision.send_at == at
    else:
        # deferred exactly to an opening of the window, within a long weekend
        assert decision.send_at.time() == window_for(decision.country, POLICY).start
        assert decision.send_at - at < timedelta(days=5)


@settings(max_examples=30, deadline=None)
@given(at=instants)
def test_property_toll_free_send_time_is_open_in_every_candidate_zone(at):
    from phonenumbers import parse
    from phonenumbers.timezone import time_zones_for_number

    decision = next_send_time(TOLL_FREE, at, POLICY, marketing=True)
    assert decision.send_at >= at
    _assert_open_everywhere(decision.send_at, "US", list(time_zones_for_number(parse(TOLL_FREE))))
