"""How a merchant name read from a receipt is compared with a known name: normalised tokens + edit distance.

The rule, in the order it is applied (``name_score``):

1. **Normalise** both names: Unicode compatibility form, accents removed, case folded, every run of characters
   that is not a letter or digit becomes a word break. Articles and legal forms (``the``, ``GmbH``, ``Ltd``,
   ``Sdn Bhd``, ...: ``_NOISE_WORDS``) carry no identity and are dropped, and so are lone letters beside longer
   words (a border or logo read as a letter), unless nothing else is left.
2. **Word similarity** (``word_similarity``) is ``1 - distance / longer length``, where the distance is Levenshtein's
   with a substitution between glyphs OCR confuses (``0/o``, ``1/l/i``, ``5/s``, ``8/b``, ``2/z``) costing a quarter.
   Two OCR habits get a fixed 0.9 instead, when it is higher: a word that is the known word plus at most two
   trailing characters (a logo or border read as letters, "Nettooy" for "Netto"), and a word cut short to at least
   60 % of the known word (a truncated print, "Restaur" for "Restaurant"); both need four or more letters.
3. **Word rule** (a partial or noisy print of the known name): every word read must find its own known word with
   similarity ≥ ``WORD_THRESHOLD``; a word read that is not in the known name means another shop ("Restaurant
   Roma" is not "Restaurant"), so the rule then gives 0. The score is the length-weighted similarity of the words
   read, times ``0.85 + 0.15 * the share of the known name they cover``: "Restaurant" for "The Wild Restaurant"
   scores 0.96, the whole name 1.0. Fewer than four letters read is too little evidence: 0.
4. **Whole-string rule** (words split or run together: "WildRestaurant"): the similarity of both names with their
   word breaks removed, provided every word read occurs (similarity ≥ ``WORD_THRESHOLD``) inside the known name.

The score is the higher of rules 3 and 4. A directory picks the best-scoring entry if it reaches
``MATCH_THRESHOLD`` and beats the runner-up by ``AMBIGUITY_MARGIN`` (a bare "Restaurant" when two restaurants are
known matches neither). The thresholds were set from the arithmetic of the examples above (one wrong letter in five
passes, one in four does not), not by fitting a data set.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache

MATCH_THRESHOLD = 0.8
AMBIGUITY_MARGIN = 0.05
WORD_THRESHOLD = 0.75
# similarities below this decide nothing (see ``_similarity``); it must stay under both thresholds' use
_FLOOR = min(WORD_THRESHOLD, MATCH_THRESHOLD - AMBIGUITY_MARGIN) - 0.05
_OCR_HABIT_SCORE = 0.9
_MIN_LETTERS = 4
_CONFUSABLE_COST = 0.25

_CONFUSABLE: frozenset[frozenset[str]] = frozenset(
    frozenset(pair) for pair in ("0o", "1l", "1i", "li", "5s", "8b", "2z")
)

_NOISE_WORDS: frozenset[str] = frozenset(
    {
        # articles and joiners
        *("the", "a", "an", "and", "of", "der", "die", "das", "und", "le", "la", "les", "et", "de", "du", "des"),
        *("el", "los", "las", "y", "il", "di", "het", "en"),
        # legal forms
        *("gmbh", "mbh", "ag", "kg", "ohg", "ug", "ev", "ltd", "limited", "llc", "llp", "inc", "corp", "co"),
        *("plc", "pty", "pte", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "ab", "oy", "oyj", "sdn", "bhd"),
    }
)


@lru_cache(maxsize=4096)
def words(name: str) -> tuple[str, ...]:
    """The normalised words of ``name`` (rule 1): accent-free, case-folded, noise words dropped unless all are."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    cleaned = "".join(ch if ch.isalnum() else " " for ch in plain)
    found = tuple(cleaned.split())
    kept = tuple(w for w in found if w not in _NOISE_WORDS)
    # a lone character beside real words is usually a mark read as a letter (a border, a logo)
    longer = tuple(w for w in kept if len(w) > 1 or w.isdigit())
    return longer or kept or found


def normalised(name: str) -> str:
    """The comparison key of a name: its normalised words joined by single spaces ("" when it has none)."""
    return " ".join(words(name))


def _swap_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return _CONFUSABLE_COST if frozenset((a, b)) in _CONFUSABLE else 1.0


def _similarity(a: str, b: str) -> float:
    """``1 - distance / longer length``, exact from ``_FLOOR`` up and 0.0 below it.

    Below the floor nothing is decided (a match needs ``MATCH_THRESHOLD``, its runner-up matters from
    ``MATCH_THRESHOLD - AMBIGUITY_MARGIN``), so the distance is given up as soon as it must exceed the budget: the
    length difference alone, or a whole row of the table, already costs more. That keeps matching a receipt
    against a directory of thousands of spellings in the tens of milliseconds.
    """
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    budget = (1.0 - _FLOOR) * longest
    if abs(len(a) - len(b)) > budget:
        return 0.0
    previous = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, start=1):
        current = [float(i)]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + _swap_cost(ca, cb)))
        if min(current) > budget:
            return 0.0
        previous = current
    score = 1.0 - previous[-1] / longest
    return score if score >= _FLOOR else 0.0


def _inside(word: str, text: str) -> float:
    """How well ``word`` occurs somewhere inside ``text``: 1 - (best local edit distance / word length)."""
    previous = [0.0] * (len(text) + 1)  # a match may start anywhere in ``text``
    for i, cw in enumerate(word, start=1):
        current = [float(i)]
        for j, ct in enumerate(text, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + _swap_cost(cw, ct)))
        previous = current
    return max(0.0, 1.0 - min(previous) / len(word)) if word else 1.0


@lru_cache(maxsize=16384)
def word_similarity(read: str, known: str) -> float:
    """Similarity 0..1 of a word read from a receipt to a known word (rule 2)."""
    score = _similarity(read, known)
    if len(known) >= _MIN_LETTERS and read.startswith(known) and len(read) - len(known) <= 2:
        score = max(score, _OCR_HABIT_SCORE)
    if len(read) >= _MIN_LETTERS and known.startswith(read) and len(read) >= 0.6 * len(known):
        score = max(score, _OCR_HABIT_SCORE)
    return score


def _word_rule(read: Sequence[str], known: Sequence[str]) -> float:
    letters = sum(len(w) for w in read)
    if letters < _MIN_LETTERS or not known:
        return 0.0
    free = list(known)
    weighted = 0.0
    covered = 0
    # longest words first: they carry the most identity and should claim their partner before short ones do
    for word in sorted(read, key=len, reverse=True):
        best = max(free, key=lambda k: word_similarity(word, k), default=None)
        if best is None:
            return 0.0
        score = word_similarity(word, best)
        if score < WORD_THRESHOLD:
            return 0.0
        free.remove(best)
        weighted += score * len(word)
        covered += len(best)
    span = covered / sum(len(k) for k in known)
    return weighted / letters * (0.85 + 0.15 * span)


def name_score(read: str, known: str) -> float:
    """How well the name ``read`` from a receipt matches the ``known`` name, 0..1 (the module docstring's rule)."""
    read_words, known_words = words(read), words(known)
    if not read_words or not known_words:
        return 0.0
    if read_words == known_words:
        return 1.0
    known_text = "".join(known_words)
    compact = _similarity("".join(read_words), known_text) if len("".join(read_words)) >= _MIN_LETTERS else 0.0
    # every word read must occur inside the known name: a new word is another shop, however long the name
    if compact and any(_inside(w, known_text) < WORD_THRESHOLD for w in read_words):
        compact = 0.0
    return max(_word_rule(read_words, known_words), compact)
