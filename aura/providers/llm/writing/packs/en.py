"""English: the offline writer's structures, connective sentences and spoken forms.

Placeholders: {t} the topic as a noun phrase ("how volcanoes form"), {T} the same capitalized,
{Title} the video's title, {Q} the brief's question, {a} the audience, {items} a list of the
brief's own key phrases, {n} a step number. Every entry is written for the language, not translated.
"""

PACK = {
    "code": "en",
    "name": "English",
    # --- lists and spoken forms -------------------------------------------------------------
    "answer": "the answer",  # the topic of a question brief, in frames that name it
    "it_all": "it all",  # the topic of a brief that is all content
    "and": "and",
    "to": "to",  # "pages 10 to 12"
    "range": "from {a} to {b}",  # "7 a.m. to 3 p.m.", "Tuesday to Sunday"
    "percent": "percent",
    "scale": {"k": "thousand", "m": "million", "b": "billion", "bn": "billion", "t": "trillion"},
    "currency": {"$": "dollars", "€": "euros", "£": "pounds", "¥": "yen"},
    "scaled_money": "{n} {scale} {currency}",  # "4.2 million dollars"
    "quarter": "the {nth} quarter of {year}",
    "quarter_alone": "the {nth} quarter",
    "ordinals": ["first", "second", "third", "fourth"],
    "twelve_hour": True,  # 15:00 is read "3 p.m."
    "hour": "{h}",  # how a whole hour on a 24-hour clock is read where twelve_hour is False
    "days": {
        "mon": "Monday", "tue": "Tuesday", "tues": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
        "thur": "Thursday", "thurs": "Thursday", "fri": "Friday", "sat": "Saturday", "sun": "Sunday",
    },
    # words that mark a fact's kind (lower case, matched as whole words or prefixes ending in *)
    "offer_words": ["off", "discount*", "sale", "free", "deal*", "save", "offer*", "promo*", "coupon*", "only", "special*"],
    "open_words": ["open*"],  # opening hours: with a time or a day, the fact says when
    "where_words": ["at", "in", "near", "street", "avenue", "road", "downtown", "located", "visit", "find us"],
    "step_words": ["first", "then", "next", "after", "finally", "last", "step", "once", "before", "start"],
    # sentences that lead a brief question into its answer
    "question": ("{Q}", "Let's find out, one step at a time."),
    "audience": ("Made for {a}", "This one is made for {a}.", "We will keep it clear, simple and to the point."),
    # the opening scene of each style: (on-screen phrase, sentence, sentence)
    "hooks": {
        "explainer": ("{Title}", "Have you ever wondered about {t}?", "Let's break it down, one piece at a time."),
        "documentary": ("{Title}", "This is a story about {t}.", "Where it comes from, how it changed, and why it matters."),
        "promo": ("{Title}", "Looking for {t}?", "Here is what you need to know."),
        "tutorial": ("{Title}", "In this tutorial you will learn about {t}.", "We will go step by step, with nothing left out."),
        "story": ("{Title}", "Once, not so long ago, a story began.", "It is a story about {t}."),
    },
    # sentences that open a section of the brief's own facts; one is used when the duration has room
    "leads": {
        "offer": ["Here is the offer.", "And here is the best part."],
        "details": ["Now, the details.", "There is more to it."],
        "when": ["Mark your calendar.", "Here is when to come."],
        "where": ["Here is where to find it."],
        "steps": ["Let's go through it step by step.", "Here is how to do it."],
        "timeline": ["Let's go back to the beginning.", "Here is how it unfolded."],
        "parts": ["It comes down to a few parts.", "Let's look at each part in turn."],
        "beginning": ["It all started simply enough."],
        "turn": ["Then everything changed."],
        "end": ["And in the end, this is what happened."],
        "documents": ["Here is what the documents tell us.", "The notes add more."],
    },
    # connectives put before a fact (in order) in the structures that need them
    "steps": ["First, {x}", "Next, {x}", "Then, {x}", "After that, {x}", "Finally, {x}"],
    "step_label": "Step {n}",
    "recap": {
        "explainer": ("Recap", "So, to sum up: {items}."),
        "documentary": ("Looking back", "Looking back, it comes down to this: {items}."),
        "promo": ("Don't miss it", "Don't miss it: {items}."),
        "tutorial": ("Recap", "Quick recap: {items}."),
        "story": ("Looking back", "Looking back: {items}."),
    },
    # generic scenes, only when the brief has run out of material and the duration asks for more
    "fillers": {
        "explainer": [
            ("Why it matters", "Why does this matter?", "Because understanding {t} helps us make sense of the world."),
            ("A closer look", "Take a closer look and patterns appear.", "The same ideas show up again and again."),
            ("A real example", "Think of a real example you may have seen.", "Once you know what to look for, it is easy to spot."),
            ("Cause and effect", "Notice how every effect becomes a cause in turn.", "That chain is what makes {t} so interesting."),
            ("Myths and facts", "A few common myths are worth clearing up.", "The truth is usually simpler, and more interesting."),
            ("Scale and time", "Timing matters as much as size.", "Some changes take seconds, others take years."),
        ],
        "documentary": [
            ("The setting", "Every story has a setting.", "And the setting shaped what happened next."),
            ("The people", "Behind every change there are people.", "Their choices left a mark that is still visible today."),
            ("The record", "Much of what we know comes from careful records.", "Each one adds a piece to the picture."),
            ("Then and now", "Compare then and now.", "The difference shows how far things have come."),
            ("The legacy", "What remains is a legacy.", "And it still shapes {t} today."),
        ],
        "promo": [
            ("Why choose it", "Why choose it?", "Because quality is something you notice right away."),
            ("Made with care", "Everything is made with care.", "Every detail is there for a reason."),
            ("For you", "It is made for people like you.", "Simple, honest and worth your time."),
            ("See for yourself", "The best way to know is to see for yourself.", "One visit says more than any ad."),
        ],
        "tutorial": [
            ("Before you start", "Before you start, take a moment to prepare.", "Having everything ready makes each step easier."),
            ("A common mistake", "Watch out for a common mistake.", "Rushing a step usually costs more time than it saves."),
            ("Check your work", "Check your work as you go.", "A small check now saves a big fix later."),
            ("Practice", "Practice makes it easier.", "The second time always goes faster than the first."),
        ],
        "story": [
            ("A quiet moment", "For a while, all was quiet.", "But quiet moments rarely last."),
            ("A choice", "Then came a choice.", "And every choice leads somewhere new."),
            ("Looking ahead", "Nobody knew what would come next.", "That was part of the adventure."),
            ("The lesson", "Every story carries a lesson.", "This one is about courage and patience."),
        ],
    },
    # the closing scene of each style
    "outros": {
        "explainer": ("Remember", "So, that is the short version of {t}.", "Now you know how the pieces fit together."),
        "documentary": ("What remains", "Big changes grow from small beginnings.", "And the story of {t} is still being written."),
        "promo": ("See you soon", "Come and see for yourself.", "We can't wait to welcome you."),
        "tutorial": ("You did it", "And that's it: you now know the essentials.", "Practice each step once more, and it will soon feel natural."),
        "story": ("The end", "And so the story comes to a close.", "Its echoes carry on long after the last word."),
    },
    # the last, very short sentence lets short videos close without overrunning their word budget
    "thanks": ("Thanks for watching", "If this helped, share it with someone who is curious too.", "Thanks for watching."),
    # said before a brief's facts come round again in a very long video
    "again": ["To recap: {x}", "Once more: {x}", "Remember: {x}", "In short: {x}", "Keep in mind: {x}"],
}
