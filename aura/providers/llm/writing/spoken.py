"""Numbers, prices, times and day ranges as a voice should read them, in the narration's language.

The screen keeps the brief's own writing ("$4.2M", "Tue–Sun, 7:00–15:00"); the
narration gets words a text-to-speech engine reads right ("4.2 million dollars",
"Tuesday to Sunday, from 7 a.m. to 3 p.m."), where engines would otherwise say
"dollar sign" or "seven colon zero zero".
"""

from __future__ import annotations

import re

_NUMBER = r"\d+(?:[.,]\d+)*"
_DASH = r"\s*[-–—]\s*"
_SCALE = r"(?:k|m|bn|b|t)(?![\w])"
_MONEY_BEFORE = re.compile(rf"([$€£¥])\s?({_NUMBER})(?:\s?({_SCALE}))?", re.IGNORECASE)
_MONEY_AFTER = re.compile(rf"({_NUMBER})\s?({_SCALE})?\s?([€£¥$])", re.IGNORECASE)
_PERCENT = re.compile(rf"({_NUMBER})\s?%")
_QUARTER = re.compile(r"\bQ([1-4])(?:\s+(\d{4}))?\b")
_CLOCK = r"(\d{1,2})[:h](\d{2})"  # not "." : "4.99" is a price, not a time
_CLOCK_RANGE = re.compile(rf"\b{_CLOCK}{_DASH}{_CLOCK}\b")
_TIME = re.compile(rf"\b{_CLOCK}\b(?!\s*(?:a\.?m|p\.?m))", re.IGNORECASE)
_MERIDIEM = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s?([ap])\.?m\b\.?", re.IGNORECASE)
_DAY_RANGE = re.compile(rf"\b([^\W\d_]{{2,5}})\.?{_DASH}([^\W\d_]{{2,5}})\b\.?")
_NUMBER_RANGE = re.compile(rf"\b({_NUMBER}){_DASH}({_NUMBER})\b")


def speakable(text: str, pack: dict) -> str:
    """`text` with its symbols and abbreviations in words of the pack's language."""
    text = _MONEY_BEFORE.sub(lambda m: _money(m.group(2), m.group(3), m.group(1), pack), text)
    text = _MONEY_AFTER.sub(lambda m: _money(m.group(1), m.group(2), m.group(3), pack), text)
    text = _PERCENT.sub(lambda m: f"{m.group(1)} {pack['percent']}", text)
    text = _QUARTER.sub(lambda m: _quarter(int(m.group(1)), m.group(2), pack), text)
    text = _CLOCK_RANGE.sub(
        lambda m: pack["range"].format(a=_clock(m.group(1), m.group(2), pack), b=_clock(m.group(3), m.group(4), pack)),
        text,
    )
    text = _TIME.sub(lambda m: _clock(m.group(1), m.group(2), pack) if int(m.group(1)) < 24 else m.group(0), text)
    text = _MERIDIEM.sub(lambda m: _meridiem(m), text)
    text = _DAY_RANGE.sub(lambda m: _days(m, pack), text)
    text = _NUMBER_RANGE.sub(lambda m: f"{m.group(1)} {pack['to']} {m.group(2)}", text)
    text = re.sub(r"\s&\s", f" {pack['and']} ", text)
    text = re.sub(r"\b([ap])\.m\.\.", r"\1.m.", text)  # "3 p.m." at a sentence's end takes no second period
    return re.sub(r"\s{2,}", " ", text)


def _money(number: str, scale: str | None, symbol: str, pack: dict) -> str:
    currency = pack["currency"][symbol]
    if scale:
        return pack["scaled_money"].format(n=number, scale=pack["scale"][scale.lower()], currency=currency)
    return f"{number} {currency}"


def _quarter(which: int, year: str | None, pack: dict) -> str:
    nth = pack["ordinals"][which - 1]
    return pack["quarter"].format(nth=nth, year=year) if year else pack["quarter_alone"].format(nth=nth)


def _clock(hour: str, minute: str, pack: dict) -> str:
    h, m = int(hour), int(minute)
    if h > 24 or m > 59:
        return f"{hour}:{minute}"
    if pack["twelve_hour"]:
        if h in (0, 24) and m == 0:
            return "midnight"
        if h == 12 and m == 0:
            return "noon"
        suffix = "a.m." if h < 12 or h == 24 else "p.m."
        h12 = h % 12 or 12
        return f"{h12} {suffix}" if m == 0 else f"{h12}:{m:02d} {suffix}"
    return pack["hour"].format(h=h) if m == 0 else f"{h}:{m:02d}"


def _meridiem(match: re.Match) -> str:
    hour, minute, half = match.group(1), match.group(2), match.group(3).lower()
    return f"{hour}{':' + minute if minute else ''} {half}.m."


def _days(match: re.Match, pack: dict) -> str:
    days = pack["days"]
    first, last = match.group(1).lower(), match.group(2).lower()
    if first in days and last in days:
        return pack["range"].format(a=days[first], b=days[last])
    return match.group(0)
