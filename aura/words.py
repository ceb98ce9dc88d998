"""Words that carry a topic: shared by keyword ranking and the search terms scenes are given."""

from __future__ import annotations

import re

WORD = re.compile(r"\w+", re.UNICODE)
# words that say nothing about a topic; without them "how do volcanoes erupt" ranks on "volcanoes erupt"
STOPWORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how i if in into is it its "
    "me my no not of on or our so than that the their them then there these they this those to was we were what "
    "when where which who why will with would you your about also just more most some such very video explain "
    "explainer make show tell".split()
)
MAX_SEARCH_TERMS = 5
SEARCH_TERM_CHARS = 60


def content_words(text: str) -> list[str]:
    """The lower-case words of `text` that are not stopwords or digits, in order."""
    return [w for w in WORD.findall(text.lower()) if w not in STOPWORDS and not w.isdigit()]


def search_terms_from(phrase: str, topic: str = "") -> list[str]:
    """Stock-library queries for a scene, best first: a few content words of its phrase, fewer, and the topic's.

    Stock searches match words, so a long query finds nothing: three words at most. A phrase that
    shares no word with the topic ("The big picture") says little about what to show: the topic leads.
    """
    words = list(dict.fromkeys(content_words(phrase)))
    topic_words = list(dict.fromkeys(content_words(topic)))
    own = [" ".join(words[:3]), " ".join(words[:2])]
    about = [" ".join(topic_words[:3]), " ".join(topic_words[:2])]
    candidates = own + about if set(words) & set(topic_words) or not topic_words else about + own
    return [term for term in dict.fromkeys(candidates) if term][:MAX_SEARCH_TERMS]
