"""The admin speaks the merchant's language: French when the shop's locale is French, else English.

Texts are written in English in the templates (`_("…")`); `admin_texts_fr.FR` has their French.
Before sign-in, the browser's Accept-Language decides."""

from __future__ import annotations

from flask import Flask, g, request

from connector.web.admin_texts_fr import FR as FR_PAGES
from connector.web.admin_texts_fr_settings import FR_SETTINGS

FR = {**FR_PAGES, **FR_SETTINGS}

LANGUAGES = ("fr", "en")


def language() -> str:
    shop = getattr(g, "shop", None)
    if shop is not None and shop.locale:
        return "fr" if shop.locale.lower().startswith("fr") else "en"
    return request.accept_languages.best_match(LANGUAGES) or "fr"


def translate(text: str, **values: object) -> str:
    if language() == "fr":
        text = FR.get(text, text)
    return text.format(**values) if values else text


def number(value: float | int | None, digits: int = 0) -> str:
    """A number written as the merchant reads it: 1 234,5 in French, 1,234.5 in English."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    if language() == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def install(app: Flask) -> None:
    app.jinja_env.globals.update(_=translate, lang=language, num=number)
