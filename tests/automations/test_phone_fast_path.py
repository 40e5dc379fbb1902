"""A phone already written in E.164 skips parsing: the answer must be the full path's, always."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automations import contacts
from automations.contacts import PhoneResult, normalise_phone

E164 = phonenumbers.PhoneNumberFormat.E164
NATIONAL = phonenumbers.PhoneNumberFormat.NATIONAL
REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def _examples() -> list[tuple[str, str]]:
    """Every example number phonenumbers has (each region, each type, non-geographic ones), with
    its region."""
    found = []
    for region in REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.append((phonenumbers.format_number(number, E164), region))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            found.append((phonenumbers.format_number(number, E164), "001"))
    return sorted(set(found))


EXAMPLES = _examples()


def full_path(raw: str, *regions: str | None) -> PhoneResult:
    return contacts._parse_phone(raw.strip(), regions)


def test_every_example_number_and_its_near_neighbours_get_the_full_paths_answer():
    # given each example number, its neighbours on the last digit, one digit more and one less
    taken = 0
    for e164, region in EXAMPLES:
        variants = [e164[:-1] + digit for digit in "0123456789"] + [e164 + "5", e164[:-1]]
        for text in variants:
            # then the answer is the full path's, whatever the hints
            assert normalise_phone(text, region) == full_path(text, region), text
            assert normalise_phone(text, None, "FR") == full_path(text, None, "FR"), text
            taken += contacts._valid_as_written(text)
    # and most of them are answered without parsing
    assert taken > len(EXAMPLES) * 5


def is_valid(code: int, national: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=code, national_number=int(national)))


def test_the_compiled_validity_is_phonenumbers_own_on_every_example_and_its_neighbours():
    checked = valid = 0
    for e164, _ in EXAMPLES:
        number = phonenumbers.parse(e164)
        national = str(number.national_number)
        for text in [national[:-1] + digit for digit in "0123456789"] + [national + "5", national[:-1]]:
            if len(text) >= 2 and text[0] != "0":
                expected = is_valid(number.country_code, text)
                assert contacts._validity(number.country_code)(text) == expected, (number.country_code, text)
                checked, valid = checked + 1, valid + expected
    assert checked > len(EXAMPLES) * 10 and checked / 10 < valid < checked * 0.9


@settings(max_examples=400, deadline=None)
@given(code=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
       national=st.from_regex(r"\A[1-9][0-9]{1,15}\Z"))
def test_the_compiled_validity_is_phonenumbers_own_on_any_digits(code, national):
    assert contacts._validity(code)(national) == is_valid(code, national)


def _mutated(e164: str, region: str, data: st.DataObject) -> str:
    """The example number changed the way real data is: other digits, a national prefix or a
    zero after the country code, cut short or too long, in national format, with spaces."""
    digits = e164[1:]
    how = data.draw(st.sampled_from(["same", "digits", "after_code", "cut", "longer", "national", "spaced"]))
    if how == "digits":
        keep = data.draw(st.integers(1, len(digits)))
        return "+" + digits[:keep] + data.draw(st.text("0123456789", min_size=len(digits) - keep,
                                                       max_size=len(digits) - keep))
    if how == "after_code":
        at = data.draw(st.integers(1, 3))
        return "+" + digits[:at] + data.draw(st.sampled_from(["0", "1", "8", "00", "90", "15", "9", "06"])) + digits[at:]
    if how == "cut":
        return e164[:data.draw(st.integers(0, len(e164)))]
    if how == "longer":
        return e164 + data.draw(st.text("0123456789", min_size=1, max_size=6))
    if how == "national":
        return phonenumbers.format_number(phonenumbers.parse(e164), NATIONAL)
    if how == "spaced":
        at = data.draw(st.integers(1, len(e164)))
        return e164[:at] + data.draw(st.sampled_from([" ", "-", ".", "(0)"])) + e164[at:]
    return e164


hints = st.lists(st.one_of(st.none(), st.sampled_from(REGIONS + ["fr", "us", "", "XX"])), max_size=3)


@settings(max_examples=400, deadline=None)
@given(example=st.sampled_from(EXAMPLES), regions=hints, data=st.data())
def test_a_real_number_changed_the_way_data_is_gets_the_full_paths_answer(example, regions, data):
    text = _mutated(*example, data)
    if text.strip():
        assert normalise_phone(text, *regions) == full_path(text, *regions)


@settings(max_examples=400, deadline=None)
@given(text=st.from_regex(r"\A[ +]?\+?[0-9]{0,19}[ ]?\Z"), regions=hints)
def test_any_run_of_digits_gets_the_full_paths_answer(text, regions):
    if text.strip():
        assert normalise_phone(text, *regions) == full_path(text, *regions)


@pytest.mark.parametrize("text", [
    "+330612345678",  # French national prefix after the country code: parse strips it
    "+390612345678",  # an Italian fixed line keeps its leading zero
    "+5491123456789",  # Argentina: the national prefix rule may rewrite the number
    "+11234567890",  # NANP: the national prefix 1 after the country code
    "+3758100896736",  # Belarus: valid as written, yet parse strips the national prefix 8
    "+33612345678 ",  # spaces around are stripped first, then it is plain again
    "+3361234567",  # too short for France
    "+999123456789",  # no such country code
])
def test_numbers_that_need_interpreting_agree_with_the_full_path(text):
    assert normalise_phone(text, "FR") == full_path(text, "FR")


def test_a_plain_valid_number_is_answered_without_parsing(monkeypatch):
    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(phonenumbers, "parse", no_parsing)
    assert normalise_phone("+33612345678", "US") == PhoneResult("+33612345678", None)
    assert normalise_phone("+16135550123") == PhoneResult("+16135550123", None)
    with pytest.raises(AssertionError, match="parsed"):
        normalise_phone("+330612345678", "FR")  # a national prefix to strip: the full path
