"""Six ready-made reply flows, in French and English, from the classic conversational-SMS uses.

Each is written in the stored flow format (a JSON-able dict, see
`automations.conversation_flows.FlowSchema`) and loaded through it, so they double as examples.
Texts stay within GSM-7 where the language allows (one accent outside it doubles the cost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from automations.conversation_flows import FlowDefinition

HOUR = 3600


def _send(template: str) -> dict[str, Any]:
    return {"type": "send", "template": template}


def _webhook(event: str, **data: Any) -> dict[str, Any]:
    return {"type": "webhook", "name": event, "value": data or None}


def _slots(confirm: str, event: str, prefix: str) -> list[dict[str, Any]]:
    return [
        {"key": str(n), "number": n, "actions": [
            _send(confirm.replace("SLOT", f"{{{{ {prefix}_{n} }}}}")),
            {"type": "set_property", "name": event, "value": f"{{{{ {prefix}_{n} }}}}"},
            _webhook(event, choice=n),
        ]}
        for n in (1, 2, 3)
    ]


TEST_DRIVE = {
    "fr": {
        "key": "test_drive", "locale": "fr", "marketing": True, "timeout": 48 * HOUR,
        "name": "Portes ouvertes : essai en 1, 2 ou 3",
        "steps": {"start": {
            "question": "{{ shop_name }} : ce week-end seulement, essais gratuits & remise "
                        "{{ offer }}. Réservez votre créneau : répondez 1 ({{ slot_1 }}), "
                        "2 ({{ slot_2 }}) ou 3 ({{ slot_3 }}).",
            "answers": _slots("C'est réservé{% if first_name %} {{ first_name }}{% endif %} ! Votre essai : SLOT chez "
                              "{{ shop_name }}. A très vite.", "test_drive_slot", "slot"),
        }},
    },
    "en": {
        "key": "test_drive", "locale": "en", "marketing": True, "timeout": 48 * HOUR,
        "name": "Open weekend: test drive 1, 2 or 3",
        "steps": {"start": {
            "question": "{{ shop_name }}: this weekend only, free test drives & {{ offer }} "
                        "off. Book a slot: reply 1 ({{ slot_1 }}), 2 ({{ slot_2 }}) or 3 "
                        "({{ slot_3 }}).",
            "answers": _slots("You're booked{% if first_name %} {{ first_name }}{% endif %}! Your test drive: SLOT at "
                              "{{ shop_name }}. See you soon.", "test_drive_slot", "slot"),
        }},
    },
}

VISIT_REMINDER = {
    lang: {
        "key": "visit_reminder", "locale": lang, "timeout": 12 * HOUR, "name": name,
        "steps": {"start": {"question": question, "answers": [
            {"key": no, "synonyms": no_words, "actions": [
                _send(cancelled), _webhook("visit_cancelled")]},
            {"key": yes, "synonyms": yes_words, "actions": [
                _send(confirmed), _webhook("visit_confirmed")]},
        ]}},
    }
    for lang, name, question, no, no_words, cancelled, yes, yes_words, confirmed in (
        ("fr", "Rappel de visite (NON pour annuler)",
         "Bonjour{% if first_name %} {{ first_name }}{% endif %}, visite de {{ property }} à {{ visit_time }}. Besoin "
         "d'annuler ? Répondez NON. Sinon, à tout à l'heure !",
         "non", ["annuler", "annulation", "je ne peux pas", "empêché"],
         "C'est noté, la visite de {{ property }} est annulée. Votre conseiller vous recontacte "
         "pour une autre date.",
         "oui", ["je confirme", "confirme", "j'y serai", "a tout a l'heure"],
         "Parfait, à tout à l'heure !"),
        ("en", "Viewing reminder (NO to cancel)",
         "Hi{% if first_name %} {{ first_name }}{% endif %}, viewing of {{ property }} at {{ visit_time }}. Need to cancel? "
         "Reply NO. Otherwise, see you there!",
         "no", ["can't make it", "cannot make it", "call off"],
         "Noted, the viewing of {{ property }} is cancelled. Your agent will contact you to "
         "find another date.",
         "yes", ["confirm", "confirmed", "i'll be there", "see you"],
         "Great, see you there!"),
    )
}

ONLINE_CLASS = {
    lang: {
        "key": "online_class", "locale": lang, "timeout": 24 * HOUR, "name": name,
        "steps": {"start": {"question": question, "answers": [
            {"key": word, "synonyms": ["lien", "link", "zoom", "url", "le lien", "the link"],
             "actions": [{"type": "send_link", "name": "link", "template": again}]},
        ]}},
    }
    for lang, name, question, word, again in (
        ("fr", "Classe en ligne : LIEN pour le lien",
         "Votre classe en ligne '{{ course }}' commence {{ starts }}. Répondez LIEN pour "
         "recevoir le lien Zoom à nouveau.", "lien",
         "Voici votre lien pour '{{ course }}' : {{ link }} A {{ starts }} !"),
        ("en", "Online class: LINK for the link",
         "Your online class '{{ course }}' starts {{ starts }}. Reply LINK to get the Zoom link "
         "again.", "link", "Here is your link for '{{ course }}': {{ link }} See you {{ starts }}!"),
    )
}

TRIP_UPSELL = {
    lang: {
        "key": "trip_upsell", "locale": lang, "marketing": True, "expires_at_local": "00:00",
        "name": name, "expired": expired,
        "steps": {"start": {"question": question, "answers": [
            {"key": yes, "actions": [
                _send(booked),
                {"type": "set_property", "name": "excursion", "value": "{{ excursion }}"},
                _webhook("excursion_booked", discount_percent=15)]},
            {"key": no, "actions": [_send(declined)]},
        ]}},
    }
    for lang, name, question, yes, booked, no, declined, expired in (
        ("fr", "Séjour confirmé : excursion à -15 % avant minuit",
         "Votre séjour à {{ destination }} est confirmé. Souhaitez-vous réserver une excursion "
         "à {{ excursion }} à -15 % ? Répondez OUI avant minuit.",
         "oui", "C'est réservé : excursion à {{ excursion }} à -15 %. Les détails arrivent par "
         "e-mail. Bon séjour !",
         "non", "Très bien, bon séjour à {{ destination }} !",
         "Désolé, l'offre -15 % sur l'excursion à {{ excursion }} a pris fin à minuit. Un "
         "conseiller reste joignable ici."),
        ("en", "Stay confirmed: excursion at -15% before midnight",
         "Your stay in {{ destination }} is confirmed. Would you like to book an excursion to "
         "{{ excursion }} at -15%? Reply YES before midnight.",
         "yes", "Booked: excursion to {{ excursion }} at -15%. Details follow by e-mail. Enjoy "
         "your stay!",
         "no", "No problem, enjoy your stay in {{ destination }}!",
         "Sorry, the -15% offer on the {{ excursion }} excursion ended at midnight. You can "
         "still write to us here."),
    )
}

ABANDONED_CART = {
    lang: {
        "key": "abandoned_cart", "locale": lang, "marketing": True, "timeout": 24 * HOUR,
        "name": name,
        "steps": {"start": {"question": question, "answers": [
            {"key": buy, "synonyms": ["acheter", "buy", "commander", "order", "finaliser",
                                      "checkout", "je prends", "i'll take it"],
             "actions": [{"type": "checkout_link", "template": link}]},
            {"key": "?", "synonyms": ["question", "une question", "j'ai une question",
                                      "i have a question"],
             "actions": [{"type": "handoff", "value": "question about the cart",
                          "template": human}]},
        ]}},
    }
    for lang, name, question, buy, link, human in (
        ("fr", "Panier abandonné : ACHETER ou ?",
         "Il vous reste {{ product_title | default('un article') }} dans votre panier. "
         "Répondez ACHETER pour finaliser la commande, ou ? si question.",
         "acheter", "Voici votre lien pour finaliser la commande : {{ checkout_url }}",
         "Avec plaisir ! Posez votre question, un conseiller vous répond ici très vite."),
        ("en", "Abandoned cart: BUY or ?",
         "You left {{ product_title | default('an item') }} in your cart. Reply BUY to "
         "complete your order, or ? if you have a question.",
         "buy", "Here is your link to complete your order: {{ checkout_url }}",
         "Sure! Ask away, someone from our team will answer you here shortly."),
    )
}

MEDICAL_APPOINTMENT = {
    lang: {
        "key": "medical_appointment", "locale": lang, "timeout": 24 * HOUR, "name": name,
        "steps": {
            "start": {"question": question, "answers": [
                {"key": "o", "synonyms": ["confirmer", "je confirme", "confirm"], "actions": [
                    _send(confirmed), _webhook("appointment_confirmed")]},
                {"key": "n", "synonyms": ["reporter", "decaler", "reschedule", "move"],
                 "next": "reschedule", "actions": [_webhook("appointment_reschedule_asked")]},
            ]},
            "reschedule": {"question": options, "answers": [
                *_slots(moved, "appointment_rescheduled", "option"),
                {"key": "?", "synonyms": ["question", "rappel", "call me"], "actions": [
                    {"type": "handoff", "value": "wants a call about the appointment"}]},
            ]},
        },
    }
    for lang, name, question, confirmed, options, moved in (
        ("fr", "Rendez-vous : O pour confirmer, N pour reporter",
         "RDV {{ doctor }} {{ appointment }}. Répondez O pour confirmer, N pour reporter. "
         "Pensez à apporter votre ordonnance.",
         "Merci, votre RDV {{ doctor }} {{ appointment }} est confirmé. N'oubliez pas votre "
         "ordonnance.",
         "Quel créneau vous convient ? 1 : {{ option_1 }}, 2 : {{ option_2 }}, 3 : "
         "{{ option_3 }}. Ou répondez ? pour qu'on vous rappelle.",
         "C'est noté : RDV {{ doctor }} reporté à SLOT. Pensez à votre ordonnance."),
        ("en", "Appointment: Y to confirm, N to reschedule",
         "Appointment with {{ doctor }} {{ appointment }}. Reply Y to confirm, N to "
         "reschedule. Please bring your prescription.",
         "Thank you, your appointment with {{ doctor }} {{ appointment }} is confirmed.",
         "Which slot suits you? 1: {{ option_1 }}, 2: {{ option_2 }}, 3: {{ option_3 }}. Or "
         "reply ? to get a call back.",
         "Noted: your appointment with {{ doctor }} is moved to SLOT."),
    )
}
# "Y" (English) and "O" (French) both mean yes: the built-in yes words make either one work.


@dataclass(frozen=True)
class Scenario:
    key: str
    industry: str
    variants: dict[str, FlowDefinition]
    example: dict[str, Any] = field(default_factory=dict)  # variables its templates use

    @property
    def name(self) -> str:
        return self.variants["fr"].name


def _scenario(industry: str, data: dict[str, dict[str, Any]], example: dict[str, Any]) -> Scenario:
    variants = {lang: FlowDefinition.from_dict(flow) for lang, flow in data.items()}
    return Scenario(variants["fr"].key, industry, variants, example)


SCENARIOS: dict[str, Scenario] = {s.key: s for s in (
    _scenario("automotive", TEST_DRIVE, {"offer": "1 000 EUR", "slot_1": "samedi 10h",
                                         "slot_2": "samedi 15h", "slot_3": "dimanche 11h"}),
    _scenario("real estate", VISIT_REMINDER, {"property": "l'appartement rue des Fleurs",
                                              "visit_time": "17h"}),
    _scenario("training", ONLINE_CLASS, {"course": "Marketing Digital", "starts": "demain 9h",
                                         "link": "https://zoom.us/j/123456789"}),
    _scenario("tourism", TRIP_UPSELL, {"destination": "Nice", "excursion": "Monaco"}),
    _scenario("retail", ABANDONED_CART, {"product_title": "un T-shirt",
                                         "checkout_token": None}),
    _scenario("health", MEDICAL_APPOINTMENT, {
        "doctor": "Dr Martin", "appointment": "mardi 9h", "option_1": "mercredi 10h",
        "option_2": "jeudi 14h", "option_3": "vendredi 9h"}),
)}


def list_scenarios() -> list[Scenario]:
    return list(SCENARIOS.values())


def flow_for(key: str, locale: str | None) -> FlowDefinition:
    """The scenario's flow in the locale's language (French when the language is not offered)."""
    scenario = SCENARIOS.get(key)
    if scenario is None:
        raise ValueError(f"unknown scenario {key!r}; known: {', '.join(SCENARIOS)}")
    lang = (locale or "fr")[:2].lower()
    return scenario.variants.get(lang) or scenario.variants["fr"]
