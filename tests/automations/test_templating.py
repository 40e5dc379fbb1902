"""Message templates: personalised, forgiving about missing data, safe against merchant input."""

from __future__ import annotations

import pytest

from automations import events
from automations.templating import (
    CAMPAIGN,
    VARIABLES,
    TemplateError,
    render,
    unknown_variables,
    validate,
    variables_for,
)


def test_a_cart_reminder_renders_with_its_variables():
    # given a cart-abandoned template with a first name, product and link
    source = (
        "{{ first_name }}, votre {{ product_title }} vous attend : {{ checkout_url }}"
        " Code {{ discount_code }}"
    )
    # when rendered with the event's variables
    text = render(
        source,
        {
            "first_name": "Léa",
            "product_title": "Sac Mila",
            "checkout_url": "https://shop.example/c/1",
            "discount_code": "MERCI10",
        },
    )
    # then the SMS reads naturally
    assert text == "Léa, votre Sac Mila vous attend : https://shop.example/c/1 Code MERCI10"


def test_missing_variable_renders_its_fallback_and_a_plain_missing_one_renders_empty():
    source = "Bonjour {{ first_name | default('cher client') }}{{ missing }} !"
    assert render(source, {}) == "Bonjour cher client !"


def test_none_counts_as_missing_and_never_renders_as_None():
    # given a contact without a first name (None from the store) and an item without variant
    variables = {"first_name": None, "line_items": [{"title": "Tee", "variant_title": None}]}
    source = (
        "Bonjour {{ first_name | default('toi') }}{{ first_name }} "
        "{% for item in line_items %}{{ item.title }} {{ item.variant_title }}{% endfor %}"
    )
    # then nothing says "None"
    text = render(source, variables)
    assert "None" not in text
    assert text == "Bonjour toi Tee "


def test_missing_nested_attributes_render_empty():
    assert render("[{{ order.customer.name }}]", {}) == "[]"


def test_text_is_not_html_escaped():
    assert render("{{ x }}", {"x": "Tom & Jerry <3 \"l'été\""}) == "Tom & Jerry <3 \"l'été\""


def test_loops_and_conditions_work():
    source = (
        "{% for item in line_items %}{{ item.quantity }}x {{ item.title }}"
        "{% if not loop.last %}, {% endif %}{% endfor %}"
    )
    items = [{"title": "Tee", "quantity": 2}, {"title": "Cap", "quantity": 1}]
    assert render(source, {"line_items": items}) == "2x Tee, 1x Cap"


def test_syntax_error_names_the_line_and_the_problem():
    # given a template whose second line closes a tag badly
    with pytest.raises(TemplateError) as caught:
        validate("Bonjour\n{{ first_name }")
    # then the merchant learns where and what
    assert caught.value.line == 2
    assert str(caught.value) == "line 2: unexpected '}'"


def test_unknown_filter_and_unclosed_block_are_refused():
    with pytest.raises(TemplateError, match="line 3: No filter named 'shout'"):
        validate("a\nb\n{{ first_name | shout }}")
    with pytest.raises(TemplateError, match="line 1: .*endif"):
        validate("{% if first_name %}Bonjour")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ first_name['__class__'] }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ ().__class__.mro() }}",
        "{% include 'secrets.txt' %}",
        "{% extends 'base' %}",
        "{% import 'macros' as m %}",
    ],
)
def test_templates_reaching_outside_the_sandbox_are_refused(source):
    with pytest.raises(TemplateError, match="not allowed"):
        validate(source)


def test_forbidden_access_built_at_render_time_fails_instead_of_leaking():
    # given an attribute name that only exists at render time
    source = "{{ first_name | attr(name) }}"
    validate(source)
    # then the sandbox stops it with a template error, not empty text or the attribute
    with pytest.raises(TemplateError, match="not allowed"):
        render(source, {"first_name": "Léa", "name": "__class__"})


def test_runtime_errors_name_their_line():
    with pytest.raises(TemplateError, match="line 2: Range too big"):
        render("a\n{% for i in range(10**9) %}{% endfor %}", {})


def test_every_trigger_documents_the_contact_variables():
    for trigger, variables in VARIABLES.items():
        assert {"first_name", "last_name", "shop_name"} <= set(variables), trigger
        assert all(description for description in variables.values())


def test_triggers_are_domain_event_types_or_campaign():
    assert set(VARIABLES) - {CAMPAIGN} <= events.EVENT_TYPES
    for trigger in ("CartAbandoned", "OrderPlaced", "OrderShipped", "OutForDelivery", "Delivered",
                    "DeliveryProblem", "CustomerCreated", "ConsentGranted", "NoOrderSince",
                    "DateReached", "InboundReply"):
        assert trigger in VARIABLES


def test_variables_for_a_trigger():
    assert "checkout_url" in variables_for("CartAbandoned")
    assert {"tracking_number", "tracking_url", "carrier"} <= set(variables_for("OrderShipped"))
    assert "review_url" in variables_for("Delivered")
    with pytest.raises(ValueError, match="no templates"):
        variables_for("ShopRedact")


def test_unknown_variables_point_at_typos():
    assert unknown_variables("{{ frist_name }} {{ checkout_url }}", "CartAbandoned") == [
        "frist_name"
    ]
    assert unknown_variables("{% for i in line_items %}{{ i.title }}{% endfor %}",
                             "OrderPlaced") == []
