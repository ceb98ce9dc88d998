"""German: the offline writer's structures, connective sentences and spoken forms."""

PACK = {
    "code": "de",
    "name": "German",
    # --- lists and spoken forms -------------------------------------------------------------
    "answer": "die Antwort",  # the topic of a question brief, in frames that name it
    "it_all": "das alles",  # the topic of a brief that is all content
    "and": "und",
    "to": "bis",  # "Seiten 10 bis 12"
    "range": "von {a} bis {b}",
    "percent": "Prozent",
    "scale": {"k": "tausend", "m": "Millionen", "b": "Milliarden", "bn": "Milliarden", "t": "Billionen"},
    "currency": {"$": "Dollar", "€": "Euro", "£": "Pfund", "¥": "Yen"},
    "scaled_money": "{n} {scale} {currency}",  # "4.2 million dollars"
    "quarter": "das {nth} Quartal {year}",
    "quarter_alone": "das {nth} Quartal",
    "ordinals": ["erste", "zweite", "dritte", "vierte"],
    "twelve_hour": False,
    "hour": "{h} Uhr",
    "days": {
        "mo": "Montag", "di": "Dienstag", "mi": "Mittwoch", "do": "Donnerstag",
        "fr": "Freitag", "sa": "Samstag", "so": "Sonntag",
    },
    # words that mark a fact's kind (lower case, matched as whole words or prefixes ending in *)
    "offer_words": ["rabatt*", "angebot*", "gratis", "kostenlos", "sale", "spar*", "aktion*", "gutschein*", "nur", "sonder*", "reduziert"],
    "open_words": ["geöffnet"],  # opening hours: with a time or a day, the fact says when
    "where_words": ["in", "im", "bei", "nahe", "straße", "strasse", "platz", "zentrum", "innenstadt", "besuch*", "adresse"],
    "step_words": ["zuerst", "erstens", "dann", "danach", "anschließend", "schließlich", "zuletzt", "schritt", "sobald", "bevor", "beginn*"],
    # sentences that lead a brief question into its answer
    "question": ("{Q}", "Finden wir es heraus, Schritt für Schritt."),
    "audience": ("Für {a}", "Dieses Video ist für {a} gemacht.", "Wir halten es klar, einfach und auf den Punkt."),
    # the opening scene of each style: (on-screen phrase, sentence, sentence)
    "hooks": {
        "explainer": ("{Title}", "Hast du schon mal über {t} nachgedacht?", "Gehen wir es Stück für Stück durch."),
        "documentary": ("{Title}", "Das ist eine Geschichte über {t}.", "Woher es kommt, wie es sich verändert hat und warum es zählt."),
        "promo": ("{Title}", "Du suchst {t}?", "Hier ist alles, was du wissen musst."),
        "tutorial": ("{Title}", "In diesem Tutorial lernst du alles über {t}.", "Wir gehen Schritt für Schritt vor und lassen nichts aus."),
        "story": ("{Title}", "Vor gar nicht so langer Zeit begann eine Geschichte.", "Es ist eine Geschichte über {t}."),
    },
    # sentences that open a section of the brief's own facts; one is used when the duration has room
    "leads": {
        "offer": ["Hier ist das Angebot.", "Und jetzt kommt das Beste."],
        "details": ["Jetzt zu den Details.", "Und das ist noch nicht alles."],
        "when": ["Merk dir den Termin.", "Hier erfährst du, wann es losgeht."],
        "where": ["So findest du hin."],
        "steps": ["Gehen wir es Schritt für Schritt durch.", "So wird es gemacht."],
        "timeline": ["Gehen wir zurück zum Anfang.", "So hat sich alles entwickelt."],
        "parts": ["Im Grunde sind es nur ein paar Teile.", "Schauen wir uns jeden Teil einzeln an."],
        "beginning": ["Alles fing ganz einfach an."],
        "turn": ["Dann änderte sich alles."],
        "end": ["Und am Ende ist genau das passiert."],
        "documents": ["Das verraten uns die Dokumente.", "Die Notizen verraten noch mehr."],
    },
    # connectives put before a fact (in order) in the structures that need them
    "steps": ["Zuerst: {x}", "Als Nächstes: {x}", "Dann: {x}", "Danach: {x}", "Zum Schluss: {x}"],
    "step_label": "Schritt {n}",
    "recap": {
        "explainer": ("Zusammenfassung", "Kurz zusammengefasst: {items}."),
        "documentary": ("Rückblick", "Im Rückblick läuft alles darauf hinaus: {items}."),
        "promo": ("Nicht verpassen", "Nicht verpassen: {items}."),
        "tutorial": ("Zusammenfassung", "Noch mal kurz zusammengefasst: {items}."),
        "story": ("Rückblick", "Im Rückblick: {items}."),
    },
    # generic scenes, only when the brief has run out of material and the duration asks for more
    "fillers": {
        "explainer": [
            ("Warum es wichtig ist", "Warum ist {t} wichtig?", "Weil es uns hilft, die Welt um uns herum zu verstehen."),
            ("Genauer hingeschaut", "Wer genauer hinschaut, erkennt Muster.", "Dieselben Ideen tauchen immer wieder auf."),
            ("Ein echtes Beispiel", "Denk an ein echtes Beispiel, das du vielleicht kennst.", "Wenn du weißt, worauf du achten musst, fällt es leicht auf."),
            ("Ursache und Wirkung", "Jede Wirkung wird selbst wieder zur Ursache.", "Genau diese Kette macht {t} so spannend."),
            ("Mythen und Fakten", "Ein paar verbreitete Mythen sollten wir klären.", "Die Wahrheit ist meist einfacher, und spannender."),
            ("Größe und Zeit", "Der Zeitpunkt zählt genauso wie die Größe.", "Manche Veränderungen dauern Sekunden, andere Jahre."),
        ],
        "documentary": [
            ("Der Schauplatz", "Jede Geschichte hat einen Schauplatz.", "Und dieser Ort prägte, was danach geschah."),
            ("Die Menschen", "Hinter jeder Veränderung stehen Menschen.", "Ihre Entscheidungen haben Spuren hinterlassen, die man bis heute sieht."),
            ("Die Aufzeichnungen", "Vieles, was wir wissen, stammt aus sorgfältigen Aufzeichnungen.", "Jede fügt dem Bild ein weiteres Stück hinzu."),
            ("Damals und heute", "Vergleiche damals und heute.", "Der Unterschied zeigt, wie weit wir gekommen sind."),
            ("Das Vermächtnis", "Was bleibt, ist ein Vermächtnis.", "Und es prägt {t} bis heute."),
        ],
        "promo": [
            ("Warum gerade das", "Warum gerade das?", "Weil man Qualität vom ersten Moment an merkt."),
            ("Mit Sorgfalt gemacht", "Alles wird mit Sorgfalt gemacht.", "Jedes Detail hat seinen Grund."),
            ("Für dich", "Es ist für Menschen wie dich gemacht.", "Einfach, ehrlich und deine Zeit wert."),
            ("Überzeug dich selbst", "Am besten überzeugst du dich einfach selbst davon.", "Ein Besuch sagt mehr als jede Werbung."),
        ],
        "tutorial": [
            ("Bevor du anfängst", "Bevor du anfängst, nimm dir einen Moment zur Vorbereitung.", "Wenn alles bereitliegt, wird jeder Schritt leichter."),
            ("Ein häufiger Fehler", "Achte auf einen häufigen Fehler.", "Wer einen Schritt überstürzt, verliert meist mehr Zeit, als er spart."),
            ("Zwischendurch prüfen", "Prüf dein Ergebnis immer zwischendurch.", "Ein kurzer Check jetzt erspart später große Korrekturen."),
            ("Übung", "Mit Übung wird es leichter.", "Beim zweiten Mal geht es immer schneller als beim ersten."),
        ],
        "story": [
            ("Ein stiller Moment", "Eine Weile lang war alles still.", "Doch stille Momente halten selten an."),
            ("Eine Entscheidung", "Dann kam eine Entscheidung.", "Und jede Entscheidung führt an einen neuen Ort."),
            ("Der Blick nach vorn", "Niemand wusste, was als Nächstes kommen würde.", "Das gehörte zum Abenteuer dazu."),
            ("Die Lehre", "Jede Geschichte hat eine Lehre.", "In dieser geht es um Mut und Geduld."),
        ],
    },
    # the closing scene of each style
    "outros": {
        "explainer": ("Zum Merken", "Das war die Kurzfassung über {t}.", "Jetzt weißt du, wie alles zusammenhängt."),
        "documentary": ("Was bleibt", "Große Veränderungen beginnen im Kleinen.", "Und die Geschichte über {t} wird noch immer geschrieben."),
        "promo": ("Bis bald", "Komm vorbei und überzeug dich selbst.", "Wir freuen uns schon auf dich."),
        "tutorial": ("Du hast es geschafft", "Und das war's: Jetzt kennst du das Wichtigste.", "Übe jeden Schritt noch einmal, dann wird er bald selbstverständlich."),
        "story": ("Ende", "Und so geht die Geschichte zu Ende.", "Ihr Echo klingt noch lange nach dem letzten Wort nach."),
    },
    # the last, very short sentence lets short videos close without overrunning their word budget
    "thanks": ("Danke fürs Zuschauen", "Wenn es dir geholfen hat, teil es mit jemandem, der auch neugierig ist.", "Danke fürs Zuschauen."),
    # said before a brief's facts come round again in a very long video
    "again": ["Noch mal kurz: {x}", "Noch einmal: {x}", "Denk daran: {x}", "Kurz gesagt: {x}", "Merk dir: {x}"],
}
