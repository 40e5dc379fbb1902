"""Ready-made flows every shop gets, as ordinary rules it can edit (French first, English too).

Transactional flows (order confirmation, shipped, out for delivery, delivered) start enabled;
marketing flows (abandoned checkout, review request, welcome, win-back, birthday) start
disabled: they need the merchant to turn them on, and the contact's consent.
"""

from __future__ import annotations

import copy
from typing import Any

from automations import events as ev

SHIPPED_FR = "Bonjour {{ first_name }}, votre commande {{ order_name }} est en route : {{ tracking_url }}"
SHIPPED_EN = "Hi {{ first_name }}, your order {{ order_name }} is on its way: {{ tracking_url }}"


def _send(fr: str, en: str, **variables: str) -> dict[str, Any]:
    step: dict[str, Any] = {"type": "send", "template": {"fr": fr, "en": en}}
    if variables:
        step["variables"] = variables
    return step


def _wait(duration: str) -> dict[str, Any]:
    return {"type": "wait", "duration": duration}


DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {
        "key": "abandoned_checkout",
        "name": "Panier abandonné",
        "description": "1 h après un panier sans commande, puis 24 h plus tard avec un code promo.",
        "trigger": ev.CART_ABANDONED,
        "kind": "marketing",
        "priority": 50,
        "enabled": False,
        "abandon_after": "1h",
        "exit_on": [{"event": ev.ORDER_PLACED, "scope": "subject"}],
        "steps": [
            _send(
                "Bonjour {{ first_name }}, votre panier vous attend chez {{ shop_name }} : {{ checkout_url }}",
                "Hi {{ first_name }}, your cart is waiting for you at {{ shop_name }}: {{ checkout_url }}",
            ),
            _wait("24h"),
            _send(
                "{{ first_name | default('Bonjour') }}, votre panier est toujours là ! -10 % avec le code "
                "{{ discount_code }} : {{ checkout_url }}",
                "{{ first_name | default('Hi') }}, your cart is still here! 10% off with code "
                "{{ discount_code }}: {{ checkout_url }}",
                discount_code="PANIER10",
            ),
        ],
    },
    {
        "key": "order_confirmation",
        "name": "Confirmation de commande",
        "trigger": ev.ORDER_PLACED,
        "kind": "transactional",
        "priority": 10,
        "enabled": True,
        "steps": [_send(
            "Merci {{ first_name }} ! Votre commande {{ order_name }} est confirmée. Suivi : {{ order_status_url }}",
            "Thank you {{ first_name }}! Your order {{ order_name }} is confirmed. Follow it: {{ order_status_url }}",
        )],
    },
    {
        "key": "order_shipped",
        "name": "Commande expédiée",
        "trigger": ev.ORDER_SHIPPED,
        "kind": "transactional",
        "priority": 10,
        "enabled": True,
        "steps": [_send(SHIPPED_FR, SHIPPED_EN)],
    },
    {
        "key": "out_for_delivery",
        "name": "En cours de livraison",
        "trigger": ev.OUT_FOR_DELIVERY,
        "kind": "transactional",
        "priority": 10,
        "enabled": True,
        "steps": [_send(
            "Bonjour {{ first_name }}, votre commande {{ order_name }} sera livrée aujourd'hui. Suivi : {{ tracking_url }}",
            "Hi {{ first_name }}, your order {{ order_name }} will be delivered today. Tracking: {{ tracking_url }}",
        )],
    },
    {
        "key": "delivered",
        "name": "Commande livrée",
        "trigger": ev.DELIVERED,
        "kind": "transactional",
        "priority": 10,
        "enabled": True,
        "steps": [_send(
            "Bonjour {{ first_name }}, votre commande {{ order_name }} a été livrée. Bonne découverte !",
            "Hi {{ first_name }}, your order {{ order_name }} has been delivered. Enjoy!",
        )],
    },
    {
        "key": "review_request",
        "name": "Demande d'avis",
        "description": "3 jours après la livraison.",
        "trigger": ev.DELIVERED,
        "kind": "marketing",
        "priority": 90,
        "enabled": False,
        "steps": [_wait("3d"), _send(
            "{{ first_name | default('Bonjour') }}, votre avis compte ! Notez votre commande {{ order_name }} : "
            "{{ review_url }}",
            "{{ first_name | default('Hi') }}, your opinion matters! Review your order {{ order_name }}: "
            "{{ review_url }}",
        )],
    },
    {
        "key": "welcome",
        "name": "Bienvenue",
        "description": "Juste après l'inscription aux SMS.",
        "trigger": ev.CONSENT_GRANTED,
        "kind": "marketing",
        "priority": 60,
        "enabled": False,
        "steps": [_send(
            "Bienvenue {{ first_name }} ! Merci de rejoindre {{ shop_name }} : -10 % sur votre prochaine "
            "commande avec le code {{ discount_code }}",
            "Welcome {{ first_name }}! Thanks for joining {{ shop_name }}: 10% off your next order with "
            "code {{ discount_code }}",
            discount_code="BIENVENUE10",
        )],
    },
    {
        "key": "win_back",
        "name": "Relance clients inactifs",
        "description": "Aucune commande depuis 90 jours.",
        "trigger": ev.NO_ORDER_SINCE,
        "kind": "marketing",
        "priority": 80,
        "enabled": False,
        "steps": [_send(
            "{{ first_name | default('Bonjour') }}, vous nous manquez ! -15 % chez {{ shop_name }} avec le code "
            "{{ discount_code }} : {{ shop_url }}",
            "{{ first_name | default('Hi') }}, we miss you! 15% off at {{ shop_name }} with code "
            "{{ discount_code }}: {{ shop_url }}",
            discount_code="REVIENS15",
        )],
    },
    {
        "key": "birthday",
        "name": "Anniversaire",
        "trigger": ev.DATE_REACHED,
        "kind": "marketing",
        "priority": 70,
        "enabled": False,
        "conditions": {"all": [{"field": "event.date_name", "op": "eq", "value": "birthday"}]},
        "steps": [_send(
            "Joyeux anniversaire {{ first_name }} ! Un cadeau vous attend chez {{ shop_name }} avec le code "
            "{{ discount_code }}",
            "Happy birthday {{ first_name }}! A gift awaits you at {{ shop_name }} with code {{ discount_code }}",
            discount_code="ANNIV",
        )],
    },
)


def default_rules() -> list[dict[str, Any]]:
    """Fresh copies of the ready-made rule definitions."""
    return copy.deepcopy(list(DEFAULT_RULES))
