"""Compliance keywords and tolerant answer matching (pure, no database)."""

from __future__ import annotations

import pytest

from automations.keywords import Answer, Intent, classify, match_answer, normalise

OPT_OUT_EN = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
              "OPT OUT", "opt-out", "STOP SMS"]
OPT_OUT_FR = ["ARRET", "ARRÊT", "arrêter", "Arrêtez", "DESABONNER", "DÉSABONNER",
              "désabonnez-moi", "DESINSCRIRE", "désinscription", "stop pub"]
NEVER_KEYWORDS = ["OUI", "NON", "1", "2", "3", "LIEN", "ACHETER", "O", "N", "RDV", "?", "ok",
                  "stopper le chauffage", "Stop the car please, I'm coming", "don't stop",
                  "je veux arrêter de fumer", "end of the story"]


@pytest.mark.parametrize("text", OPT_OUT_EN + OPT_OUT_FR)
def test_every_opt_out_keyword_in_both_languages_opts_out(text: str) -> None:
    # given a reply that is only an opt-out keyword / when it is classified / then it opts out
    assert classify(text).intent == "opt_out"


@pytest.mark.parametrize(
    "text", ["STOP.", "stop !", " Stop ", "StOp", "STOP merci", "stop please", "Stop svp",
             "STOP STOP", "stop tous les sms", "Arrêtez s’il vous plaît", "please stop",
             "Unsubscribe me", "\tSTOP\n"]
)
def test_opt_out_survives_case_punctuation_spacing_and_polite_words(text: str) -> None:
    # given the keyword wrapped in punctuation or polite filler words / then still an opt-out
    assert classify(text).intent == "opt_out"


@pytest.mark.parametrize("text", NEVER_KEYWORDS)
def test_conversation_answers_and_sentences_are_never_keywords(text: str) -> None:
    # given an answer word or a sentence that merely contains a keyword / then it is no keyword
    assert classify(text) == Intent("other", None)


def test_opt_out_wins_even_when_the_conversation_expects_that_word() -> None:
    # given a conversation that expects "END" or "CANCEL" as an answer
    # when the customer sends it / then it is still an opt-out (legal duty)
    assert classify("END", expected_answers=["end", "cancel"]).intent == "opt_out"
    assert classify("cancel", expected_answers=["cancel"]).intent == "opt_out"


def test_help_and_start_yield_to_an_expected_answer() -> None:
    # given a conversation asking "reply INFO for details"
    # when the customer sends INFO / then it is the conversation's answer, not HELP
    assert classify("INFO", expected_answers=["info"]).intent == "other"
    assert classify("INFO").intent == "help"


@pytest.mark.parametrize("text", ["START", "start", "Unstop", "START merci"])
def test_start_and_unstop_opt_in(text: str) -> None:
    assert classify(text).intent == "opt_in"


def test_yes_and_oui_opt_in_only_when_a_double_opt_in_is_pending() -> None:
    # given no pending double opt-in / then OUI and YES are plain answers
    assert classify("OUI").intent == "other"
    assert classify("yes").intent == "other"
    # given a pending double opt-in prompt / then they confirm the subscription
    assert classify("Oui !", pending_double_opt_in=True) == Intent("opt_in", "oui")
    assert classify("YES", pending_double_opt_in=True) == Intent("opt_in", "yes")
    # and STOP still wins while the prompt is pending
    assert classify("STOP", pending_double_opt_in=True).intent == "opt_out"


@pytest.mark.parametrize("text", ["HELP", "help", "AIDE", "Aide ?", "INFO", "infos", "aide svp"])
def test_help_keywords_in_both_languages(text: str) -> None:
    assert classify(text).intent == "help"


@pytest.mark.parametrize(
    "text",
    ["", "   ", None, "x" * 5000, "STOP " * 1000, "👍", "🛑🛑", "СТОП", "Отписаться", "停止",
     "\x00\x07", "؟"],
)
def test_bad_inputs_are_other_and_never_crash(text: str | None) -> None:
    # given an empty, huge, emoji-only or foreign-alphabet reply / then "other", no exception
    assert classify(text).intent == "other"
    assert match_answer(text, [Answer("oui"), Answer("non"), Answer("1", number=1)]) is None


def test_normalise_folds_case_accents_and_surrounding_punctuation() -> None:
    assert normalise("  ArRÊt !! ") == "arret"
    assert normalise("Désabonner   moi.") == "desabonner moi"
    assert normalise("Cœur") == "coeur"
    assert normalise("?") == "?"
    assert normalise("") == ""


YES_NO = [Answer("oui"), Answer("non", synonyms=("annuler",))]


@pytest.mark.parametrize(
    ("text", "key"),
    [("OUI", "oui"), ("ouais", "oui"), ("Yes!", "oui"), ("ok merci", "oui"), ("o", "oui"),
     ("y", "oui"), ("d'accord", "oui"), ("D’accord", "oui"), ("non", "non"), ("No", "non"),
     ("n", "non"), ("nan", "non"), ("non merci", "non"), ("Annuler", "non"), ("annulé", "non")],
)
def test_yes_no_synonyms_in_french_and_english(text: str, key: str) -> None:
    # given a question expecting OUI or NON / when the customer answers loosely / then understood
    answer = match_answer(text, YES_NO)
    assert answer is not None and answer.key == key


SLOTS = [Answer("1", number=1), Answer("2", number=2), Answer("3", number=3)]


@pytest.mark.parametrize(
    ("text", "number"),
    [("1", 1), ("un", 1), ("one", 1), ("1️⃣", 1), ("le 1", 1), ("#1", 1), ("n°1", 1),
     ("option 2", 2), ("deux", 2), ("Le 2 svp", 2), ("3.", 3), ("trois", 3), ("third", 3)],
)
def test_numbers_as_digits_words_emoji_and_phrases(text: str, number: int) -> None:
    answer = match_answer(text, SLOTS)
    assert answer is not None and answer.number == number


@pytest.mark.parametrize("text", ["2 ou 3", "4", "10h", "peut-être", "le 1 ou le 2 je sais pas"])
def test_ambiguous_or_unknown_choices_match_nothing(text: str) -> None:
    assert match_answer(text, SLOTS) is None


def test_one_typo_is_forgiven_in_long_words_only() -> None:
    # given a cart question expecting ACHETER or "?"
    answers = [Answer("acheter", synonyms=("buy",)), Answer("?", synonyms=("question",))]
    # when the customer mistypes a long word / then it still matches
    assert match_answer("achter", answers).key == "acheter"
    assert match_answer("ACHETEER", answers).key == "acheter"
    assert match_answer("acehter", answers).key == "acheter"
    # but two typos, or a typo in a short word, do not
    assert match_answer("achtr", answers) is None
    assert match_answer("lein", [Answer("lien")]) is None
    # and a question mark (even repeated) is an answer of its own
    assert match_answer("??", answers).key == "?"


def test_an_answer_word_claimed_by_two_answers_is_ambiguous() -> None:
    # given two answers that both accept "ok" / then "ok" is not guessed
    assert match_answer("ok", [Answer("oui"), Answer("confirmer", synonyms=("ok",))]) is None
