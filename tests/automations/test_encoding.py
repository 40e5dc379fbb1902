"""SMS encoding and segment counting: what the merchant is billed for."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from automations.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    analyse,
    smart_encode,
)


def test_160_gsm_characters_fit_one_sms_and_161_make_two_parts_of_153():
    # given plain GSM-7 texts at the single-SMS limit and just over it
    # when they are analysed
    one = analyse("a" * 160)
    two = analyse("a" * 161)
    # then 160 fit one SMS; 161 split into 153 + 8
    assert (one.encoding, one.segments, one.units) == ("GSM-7", 1, 160)
    assert two.segments == 2
    assert [len(p) for p in two.parts] == [153, 8]


def test_306_gsm_characters_make_two_parts_and_307_three():
    assert analyse("b" * 306).segments == 2
    assert analyse("b" * 307).segments == 3


def test_french_accents_e_grave_e_acute_u_a_are_gsm7():
    # given a French text using only the accents GSM-7 carries
    info = analyse("Élodie, votre commande à 20 € est expédiée où vous êtes ? Ç")
    # then the ê (not in GSM-7) is what makes it UCS-2, and it is reported
    assert info.encoding == "UCS-2"
    assert info.non_gsm_characters == ["ê"]
    assert analyse("Élodie, votre colis est arrivé là où vous étiez. Ç").encoding == "GSM-7"


def test_circumflex_and_cedilla_letters_are_not_gsm7():
    for char in "âêîôûëïçœ":
        info = analyse(f"Merci {char}")
        assert info.encoding == "UCS-2", char
        assert info.non_gsm_characters == [char]


def test_extension_characters_cost_two_septets():
    # given a text of 80 euro signs (each escape + char)
    info = analyse("€" * 80)
    # then it is 160 septets: exactly one SMS; one more char makes two
    assert (info.encoding, info.units, info.segments, info.characters) == ("GSM-7", 160, 1, 80)
    assert analyse("€" * 80 + "a").segments == 2
    for char in "[\\]^{|}~€\f":
        assert analyse(char).units == 2, repr(char)


def test_escape_pair_is_never_split_across_parts():
    # given 152 septets then a euro sign (2 septets) which would straddle the 153 limit
    text = "a" * 152 + "€" + "b" * 10
    info = analyse(text)
    # then the euro sign starts the second part rather than being cut in two
    assert info.parts[0] == "a" * 152
    assert info.parts[1].startswith("€")
    assert "".join(info.parts) == text


def test_one_non_gsm_character_turns_the_whole_message_into_ucs2_with_70_and_67_limits():
    assert analyse("ô" * 70).segments == 1
    info = analyse("ô" * 71)
    assert (info.encoding, info.segments) == ("UCS-2", 2)
    assert [len(p) for p in info.parts] == [67, 4]
    # a single emoji in an otherwise 100-char GSM text makes it 2 UCS-2 segments
    assert analyse("a" * 100 + "🙂").segments == 2


def test_emoji_costs_two_units_and_a_surrogate_pair_is_never_split():
    # given 66 units then an emoji (2 units) around the 67-unit part limit
    text = "x" * 66 + "🎉" + "y" * 10
    info = analyse(text)
    assert info.units == 66 + 2 + 10
    assert info.characters == 77
    assert info.parts[0] == "x" * 66
    assert info.parts[1].startswith("🎉")
    # and 35 emoji are exactly 70 units: one SMS
    assert analyse("😀" * 35).segments == 1
    assert analyse("😀" * 36).segments == 2


def test_empty_body_counts_as_one_segment_of_nothing():
    info = analyse("")
    assert (info.encoding, info.segments, info.characters, info.units) == ("GSM-7", 1, 0, 0)
    assert info.parts == [""]


def test_non_gsm_characters_are_sorted_and_unique():
    assert analyse("œuvre où ça ô ô 🙂").non_gsm_characters == ["ç", "ô", "œ", "🙂"]


def test_smart_encoding_replaces_typography_and_makes_the_text_gsm7():
    # given a text typed in a word processor, French style
    text = "L\u2019offre \u00ab\u202fVIP\u202f\u00bb \u2013 \u201cj\u2019y vais\u201d\u2026 10\u00a0%"
    # when it is smart-encoded
    out = smart_encode(text)
    # then it reads the same in plain GSM-7
    assert out == "L'offre \"VIP\" - \"j'y vais\"... 10 %"
    assert analyse(out).encoding == "GSM-7"


def test_smart_encoding_never_touches_letters():
    text = "Tête-à-tête, maïs, garçon, cœur, août, flûte, Noël, île"
    assert smart_encode(text) == text


def test_smart_encoding_leaves_plain_gsm_text_unchanged():
    text = "Bonjour Léa, -20% avec CODE20 ! https://x.fr/a?b=1 [fin] {ok} €"
    assert smart_encode(text) == text


gsm_chars = st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION))
any_chars = st.one_of(gsm_chars, st.characters(codec="utf-8"), st.sampled_from("âçœ🙂🎉€"))


def _check_parts(text: str) -> None:
    info = analyse(text)
    assert "".join(info.parts) == text
    assert info.segments == len(info.parts)
    assert info.characters == len(text)
    gsm = all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)
    assert (info.encoding == "GSM-7") == gsm
    single, part = (160, 153) if gsm else (70, 67)

    def cost(c: str) -> int:
        if gsm:
            return 2 if c in GSM7_EXTENSION else 1
        return 2 if ord(c) > 0xFFFF else 1

    assert info.units == sum(cost(c) for c in text)
    if info.segments == 1:
        assert info.units <= single
    else:
        assert info.units > single
        assert all(sum(cost(c) for c in p) <= part for p in info.parts)
        # never fewer segments than the units need, and never a wasted part
        assert info.segments >= math.ceil(info.units / part)
        assert info.segments <= math.ceil(info.units / (part - 1))


@settings(max_examples=300)
@given(st.text(alphabet=gsm_chars, max_size=700))
def test_property_gsm_texts_split_within_limits(text):
    _check_parts(text)


@settings(max_examples=300)
@given(st.text(alphabet=any_chars, max_size=400))
def test_property_any_text_split_within_limits(text):
    _check_parts(text)


@given(st.text(alphabet=any_chars, max_size=200))
def test_property_smart_encoding_is_idempotent_and_keeps_letters(text):
    once = smart_encode(text)
    assert smart_encode(once) == once
    assert [c for c in once if c.isalpha()] == [c for c in text if c.isalpha()]
