"""The webhook route's body check skips members instead of building them: it must still give the
same verdict as a full parse on any body."""

from __future__ import annotations

import orjson
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from connector.web.webhooks import json_object_text
from tests.connector.helpers import FIXTURES

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
documents = json_values.map(orjson.dumps) | st.sampled_from([p.read_bytes() for p in FIXTURES.glob("*.json")])


def full_parse_verdict(raw: bytes) -> bool | None:
    """True when a full parse gives a JSON object; None for a number out of a double's range."""
    try:
        return isinstance(orjson.loads(raw), dict)
    except orjson.JSONDecodeError as exc:
        return None if "as double" in str(exc) else False


@settings(max_examples=400)
@given(documents, st.data())
def test_the_check_agrees_with_a_full_parse_on_bodies_and_their_corruptions(raw, data):
    # given a JSON document, possibly corrupted: a byte replaced, dropped or inserted
    if raw and data.draw(st.booleans(), label="corrupt"):
        at = data.draw(st.integers(0, len(raw) - 1), label="at")
        byte = bytes([data.draw(st.integers(0, 255), label="byte")])
        how = data.draw(st.sampled_from(["replace", "drop", "insert"]), label="how")
        raw = {"replace": raw[:at] + byte + raw[at + 1:], "drop": raw[:at] + raw[at + 1:],
               "insert": raw[:at] + byte + raw[at:]}[how]
    verdict = full_parse_verdict(raw)
    assume(verdict is not None)
    # then the route's check accepts it exactly when a full parse gives an object, as its text
    assert (json_object_text(raw) == raw.decode("utf-8")) if verdict else json_object_text(raw) is None


def test_what_is_not_one_json_object_in_utf8_is_refused():
    for raw in (b"", b"null", b"[1]", b'"x"', b'{"a":1}{"b":2}', b'{"a": NaN}', b'{"a": "\xff"}',
                b'{"a": "\\ud800"}', b'\xef\xbb\xbf{"a": 1}', b'{"a": 1,}'):
        assert json_object_text(raw) is None, raw
