"""Reading what a customer texted back: compliance keywords and tolerant answer matching.

Pure functions, no database. Two questions are answered here:

* `classify`: is the message a compliance keyword (opt-out, opt-in, help)?
* `match_answer`: which of the answers a conversation expects does the message mean?

Rules (documented in the README keyword table):

* Text is folded before comparison: case, accents, ligatures, surrounding spaces and punctuation,
  inner whitespace collapsed; inner punctuation splits words ("opt-out" reads "opt out").
* A keyword is the whole message, possibly repeated ("STOP STOP") and wrapped in polite filler
  words ("stop merci", "STOP SMS", "please stop", "désabonnez-moi"). Any other word makes it a
  sentence, not a keyword ("stopper le chauffage", "stop sending me promos"): it goes to a human,
  who can opt the contact out by hand. Messages longer than `MAX_KEYWORD_CHARS` are never keywords.
* The STOP family always wins, even when the open conversation expects that very word: opt-out
  is a legal duty (e.g. "CANCEL" cancels SMS, not the visit; "ANNULER" cancels the visit).
  HELP and START words lose to an answer the open conversation expects (a flow may ask "INFO ?").
* YES/OUI are opt-in only while a double opt-in prompt is pending; OUI, NON, 1, 2, 3, LIEN,
  ACHETER, O, N, RDV and "?" are never keywords.
* Other alphabets, emoji-only, empty and huge messages are "other", never an error.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MAX_KEYWORD_CHARS = 60
MAX_ANSWER_CHARS = 80

OPT_OUT_KEYWORDS = frozenset({
    # English (CTIA standard set and common variants)
    "stop", "stopall", "stop all", "unsubscribe", "unsub", "cancel", "end", "quit", "revoke",
    "optout", "opt out", "remove me",
    # French
    "arret", "arrete", "arreter", "arretez", "desabonner", "desabonne", "desabonnez",
    "desabonnement", "desinscrire", "desinscris", "desinscrivez", "desinscription",
    "stop pub",
})
OPT_IN_KEYWORDS = frozenset({"start", "unstop", "subscribe", "reabonner", "reabonnez"})
DOUBLE_OPT_IN_ANSWERS = frozenset({"yes", "oui"})
HELP_KEYWORDS = frozenset({"help", "aide", "info", "infos"})

# Words that may wrap a keyword without turning it into a sentence.
KEYWORD_FILLERS = frozenset({
    "please", "pls", "plz", "thanks", "thank", "you", "thx", "now", "sms", "texts", "text",
    "messages", "message", "msg", "me", "merci", "svp", "stp", "s", "il", "vous", "plait",
    "maintenant", "moi", "les", "des", "tous", "tout", "ok", "pub", "pubs", "promo", "promos",
    "publicite", "publicites",
})
# Words that may wrap an answer ("oui merci", "le 2 svp").
ANSWER_FILLERS = frozenset({
    "please", "pls", "thanks", "thank", "you", "merci", "svp", "stp", "s", "il", "vous", "plait",
    "beaucoup", "bien", "sur", "alors", "bonjour", "hello", "hi", "salut",
})
NUMBER_PREFIXES = frozenset({
    "le", "la", "l", "the", "option", "choix", "choice", "creneau", "slot", "horaire", "numero",
    "number", "num", "no", "n", "nr", "je", "prends", "prend", "choisis", "veux", "voudrais",
    "i", "ll", "take", "want", "pick", "go", "for", "reponse", "answer",
})
NUMBER_WORDS = {
    "un": 1, "une": 1, "one": 1, "premier": 1, "premiere": 1, "first": 1, "1er": 1, "1ere": 1,
    "1st": 1, "deux": 2, "two": 2, "deuxieme": 2, "second": 2, "seconde": 2, "2e": 2,
    "2eme": 2, "2nd": 2, "trois": 3, "three": 3, "troisieme": 3, "third": 3, "3e": 3, "3eme": 3,
    "3rd": 3, "quatre": 4, "four": 4, "quatrieme": 4, "fourth": 4, "4e": 4, "4eme": 4, "4th": 4,
    "cinq": 5, "five": 5, "cinquieme": 5, "fifth": 5, "5e": 5, "5eme": 5, "5th": 5,
}
YES_WORDS = frozenset({
    "oui", "ouais", "ouai", "ouaip", "ouep", "oui oui", "yes", "yep", "yeah", "yea", "ya", "ok",
    "okay", "oki", "okey", "o", "y", "d accord", "daccord", "dac", "bien sur", "volontiers",
    "absolument", "certainement", "sure", "of course", "yes please", "c est bon", "parfait",
    "top", "super", "go",
})
NO_WORDS = frozenset({
    "non", "no", "n", "nan", "nope", "nah", "non merci", "no thanks", "pas interesse",
    "pas interessee", "not interested", "jamais", "surtout pas", "pas question",
})
SYNONYM_GROUPS = (YES_WORDS, NO_WORDS)

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d"})
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Intent:
    intent: str  # "opt_out" | "opt_in" | "help" | "other"
    keyword: str | None = None  # the folded keyword that decided it


@dataclass(frozen=True)
class Answer:
    """One answer a question expects: its key, extra words that mean it, and its number.

    The built-in yes/no synonyms join an answer whose key or synonyms contain one of them
    ("oui" also accepts "ouais", "yes", "ok", "o"…).
    """

    key: str
    synonyms: tuple[str, ...] = field(default_factory=tuple)
    number: int | None = None

    def phrases(self) -> frozenset[str]:
        own = {phrase(w) for w in (self.key, *self.synonyms)} - {""}
        for group in SYNONYM_GROUPS:
            if own & group:
                own |= group
        return frozenset(own)


OTHER = Intent("other", None)


def normalise(text: str | None) -> str:
    """Fold case, accents and ligatures, trim surrounding spaces/punctuation, collapse whitespace.

    A message made only of punctuation or symbols keeps them ("?" stays "?").
    """
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    folded = "".join(c for c in folded if not unicodedata.category(c).startswith("M"))
    folded = folded.casefold().translate(_APOSTROPHES).translate(_LIGATURES)
    folded = "".join(c for c in folded if c.isprintable() or c.isspace())
    collapsed = _SPACES.sub(" ", folded).strip()
    start, end = 0, len(collapsed)
    while start < end and not collapsed[start].isalnum():
        start += 1
    while end > start and not collapsed[end - 1].isalnum():
        end -= 1
    return collapsed[start:end] or collapsed


def words(text: str | None) -> list[str]:
    """The folded words of a text: letters and digits, punctuation as separators."""
    return _WORD.findall(normalise(text))


def phrase(text: str | None) -> str:
    """The folded words joined by one space ("Opt-Out !" -> "opt out"); symbols if no word."""
    found = words(text)
    return " ".join(found) if found else normalise(text)


def classify(
    text: str | None,
    *,
    pending_double_opt_in: bool = False,
    expected_answers: Iterable[str] = (),
) -> Intent:
    """Is this message a compliance keyword? See the module rules."""
    if not text or len(text) > MAX_KEYWORD_CHARS * 4:
        return OTHER
    folded = normalise(text)
    if not folded or len(folded) > MAX_KEYWORD_CHARS:
        return OTHER
    tokens = _WORD.findall(folded)
    if not tokens:
        return OTHER
    keyword = _keyword_in(tokens, OPT_OUT_KEYWORDS)
    if keyword:
        return Intent("opt_out", keyword)
    expected = {phrase(a) for a in expected_answers}
    if " ".join(tokens) in expected:
        return OTHER
    if pending_double_opt_in:
        keyword = _keyword_in(tokens, DOUBLE_OPT_IN_ANSWERS)
        if keyword:
            return Intent("opt_in", keyword)
    keyword = _keyword_in(tokens, OPT_IN_KEYWORDS)
    if keyword:
        return Intent("opt_in", keyword)
    keyword = _keyword_in(tokens, HELP_KEYWORDS)
    if keyword:
        return Intent("help", keyword)
    return OTHER


def _keyword_in(tokens: Sequence[str], keywords: frozenset[str]) -> str | None:
    """The keyword if the tokens are only that keyword (repeated or not) and filler words."""
    found: str | None = None
    i = 0
    while i < len(tokens):
        pair = " ".join(tokens[i:i + 2]) if i + 1 < len(tokens) else None
        if pair in keywords and (found is None or found == pair):
            found, i = pair, i + 2
        elif tokens[i] in keywords and (found is None or found == tokens[i]):
            found, i = tokens[i], i + 1
        elif tokens[i] in KEYWORD_FILLERS:
            i += 1
        else:
            return None
    return found


def match_answer(text: str | None, answers: Sequence[Answer]) -> Answer | None:
    """The one expected answer the message means, or None (none or several fit).

    In order: the exact folded phrase or a synonym; the same after dropping polite words; a
    number ("2", "deux", "le 2", "2️⃣", "option 2"); one typo in a word of five letters or more.
    """
    if not text or not answers or len(text) > MAX_ANSWER_CHARS * 4:
        return None
    folded = normalise(text)
    if not folded or len(folded) > MAX_ANSWER_CHARS:
        return None
    tokens = _WORD.findall(folded)
    if not tokens:  # punctuation or symbols only: "?" or "??"
        symbol = _squeeze(folded.replace(" ", ""))
        return _only(a for a in answers if symbol in a.phrases())
    whole = " ".join(tokens)
    polite = " ".join(t for t in tokens if t not in ANSWER_FILLERS) or whole
    for candidate in dict.fromkeys((whole, polite)):
        hit = _only(a for a in answers if candidate in a.phrases())
        if hit:
            return hit
    number = _number(polite.split())
    if number is not None:
        hit = _only(a for a in answers if a.number == number)
        if hit:
            return hit
    if len(polite) >= 5 and " " not in polite and not polite.isdigit():
        return _only(
            a for a in answers
            if any(len(p) >= 5 and _within_one_edit(polite, p) for p in a.phrases())
        )
    return None


def _only(candidates: Iterable[Answer]) -> Answer | None:
    found = list(dict.fromkeys(candidates))
    return found[0] if len(found) == 1 else None


def _squeeze(text: str) -> str:
    return re.sub(r"(.)\1+", r"\1", text)


def _number(tokens: Sequence[str]) -> int | None:
    """A single choice number among prefix words ("le 2", "option 3", "#1"), else None."""
    numbers = []
    for token in tokens:
        if token.isdigit() and len(token) <= 2:
            numbers.append(int(token))
        elif token in NUMBER_WORDS:
            numbers.append(NUMBER_WORDS[token])
        elif token not in NUMBER_PREFIXES:
            return None
    return numbers[0] if len(numbers) == 1 else None


def _within_one_edit(a: str, b: str) -> bool:
    """True if a and b differ by at most one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]
