"""Italian: the offline writer's structures, connective sentences and spoken forms."""

PACK = {
    "code": "it",
    "name": "Italian",
    # --- lists and spoken forms -------------------------------------------------------------
    "answer": "la risposta",  # the topic of a question brief, in frames that name it
    "it_all": "tutto questo",  # the topic of a brief that is all content
    "and": "e",
    "to": "a",  # "pagine da 10 a 12"
    "range": "da {a} a {b}",
    "percent": "per cento",
    "scale": {"k": "mila", "m": "milioni", "b": "miliardi", "bn": "miliardi", "t": "bilioni"},
    "currency": {"$": "dollari", "€": "euro", "£": "sterline", "¥": "yen"},
    "scaled_money": "{n} {scale} di {currency}",  # "4.2 million dollars"
    "quarter": "il {nth} trimestre del {year}",
    "quarter_alone": "il {nth} trimestre",
    "ordinals": ["primo", "secondo", "terzo", "quarto"],
    "twelve_hour": False,
    "hour": "{h}",
    "days": {
        "lun": "lunedì", "mar": "martedì", "mer": "mercoledì", "gio": "giovedì",
        "ven": "venerdì", "sab": "sabato", "dom": "domenica",
    },
    # words that mark a fact's kind (lower case, matched as whole words or prefixes ending in *)
    "offer_words": ["scont*", "offert*", "gratis", "gratuit*", "saldi", "promo*", "coupon", "solo", "soltanto", "risparmi*", "special*"],
    "open_words": ["apert*"],  # opening hours: with a time or a day, the fact says when
    "where_words": ["a", "in", "presso", "vicino", "via", "viale", "piazza", "centro", "si trova", "visita*", "trovaci"],
    "step_words": ["prima", "poi", "quindi", "dopo", "dopodiché", "infine", "alla fine", "passo", "una volta", "inizia*"],
    # sentences that lead a brief question into its answer
    "question": ("{Q}", "Scopriamolo insieme, un passo alla volta."),
    "audience": ("Pensato per {a}", "Questo video è pensato per {a}.", "Sarà chiaro, semplice e dritto al punto."),
    # the opening scene of each style: (on-screen phrase, sentence, sentence)
    "hooks": {
        "explainer": ("{Title}", "Ti sei mai posto questa domanda: {t}?", "Vediamolo insieme, un pezzo alla volta."),
        "documentary": ("{Title}", "Questa è una storia che riguarda {t}.", "Da dove nasce, come è cambiato tutto e perché conta."),
        "promo": ("{Title}", "Cerchi {t}?", "Ecco tutto quello che devi sapere."),
        "tutorial": ("{Title}", "In questo tutorial vedremo insieme {t}.", "Andremo passo dopo passo, senza tralasciare nulla."),
        "story": ("{Title}", "Non molto tempo fa, cominciò una storia.", "È una storia che riguarda {t}."),
    },
    # sentences that open a section of the brief's own facts; one is used when the duration has room
    "leads": {
        "offer": ["Ecco l'offerta.", "E adesso, la parte migliore."],
        "details": ["Ora, i dettagli.", "E non è finita qui."],
        "when": ["Segnatelo in agenda.", "Ecco quando venire."],
        "where": ["Ecco dove si trova."],
        "steps": ["Vediamolo insieme, passo dopo passo.", "Ecco come si fa."],
        "timeline": ["Torniamo all'inizio di tutto.", "Ecco come sono andate le cose."],
        "parts": ["Tutto si riduce a poche parti.", "Vediamo ogni parte, una alla volta."],
        "beginning": ["Tutto è cominciato in modo semplice."],
        "turn": ["Poi tutto è cambiato."],
        "end": ["E alla fine, ecco cosa è successo."],
        "documents": ["Ecco cosa ci dicono i documenti.", "Gli appunti aggiungono altro."],
    },
    # connectives put before a fact (in order) in the structures that need them
    "steps": ["Prima di tutto, {x}", "Poi, {x}", "Quindi, {x}", "Dopodiché, {x}", "Infine, {x}"],
    "step_label": "Passo {n}",
    "recap": {
        "explainer": ("Riepilogo", "Quindi, ricapitolando: {items}."),
        "documentary": ("Guardando indietro", "Guardando indietro, tutto si riduce a questo: {items}."),
        "promo": ("Da non perdere", "Da non perdere: {items}."),
        "tutorial": ("Riepilogo", "Un rapido riepilogo: {items}."),
        "story": ("Guardando indietro", "Guardando indietro: {items}."),
    },
    # generic scenes, only when the brief has run out of material and the duration asks for more
    "fillers": {
        "explainer": [
            ("Perché conta", "Perché è importante {t}?", "Perché ci aiuta a capire il mondo che ci circonda."),
            ("Uno sguardo da vicino", "Guardando da vicino, emergono degli schemi.", "Le stesse idee tornano di continuo."),
            ("Un esempio reale", "Pensa a un esempio reale che potresti aver visto.", "Una volta che sai cosa cercare, è facile riconoscerlo."),
            ("Causa ed effetto", "Nota come ogni effetto diventi a sua volta una causa.", "È questa catena a rendere {t} così interessante."),
            ("Miti e verità", "Vale la pena sfatare alcuni miti comuni.", "La verità di solito è più semplice, e più interessante."),
            ("Scala e tempo", "I tempi contano quanto le dimensioni.", "Alcuni cambiamenti durano secondi, altri anni."),
        ],
        "documentary": [
            ("Il contesto", "Ogni storia ha il suo contesto.", "E quel contesto ha segnato ciò che seguì."),
            ("Le persone", "Dietro ogni cambiamento ci sono delle persone.", "Le loro scelte hanno lasciato un segno ancora visibile oggi."),
            ("Le fonti", "Molto di ciò che sappiamo viene da documenti accurati.", "Ognuno aggiunge un tassello al quadro."),
            ("Ieri e oggi", "Confronta ieri e oggi.", "La differenza mostra quanta strada è stata fatta."),
            ("L'eredità", "Ciò che resta è un'eredità.", "E ancora oggi influenza {t}."),
        ],
        "promo": [
            ("La scelta giusta", "Perché fare questa scelta?", "Perché la qualità si nota subito."),
            ("Fatto con cura", "Tutto è fatto con cura.", "Ogni dettaglio ha il suo perché."),
            ("Per te", "È pensato per persone come te.", "Semplice, onesto e vale il tuo tempo."),
            ("Vieni a vedere", "Il modo migliore per saperlo è vederlo con i tuoi occhi.", "Una visita vale più di qualsiasi pubblicità."),
        ],
        "tutorial": [
            ("Prima di iniziare", "Prima di iniziare, prenditi un momento per prepararti.", "Avere tutto pronto rende ogni passo più facile."),
            ("Un errore comune", "Attenzione a un errore comune.", "Avere fretta di solito fa perdere più tempo di quanto ne risparmi."),
            ("Controlla il lavoro", "Controlla il lavoro man mano che procedi.", "Un piccolo controllo ora evita una grande correzione dopo."),
            ("La pratica", "La pratica rende tutto più facile.", "La seconda volta va sempre più veloce della prima."),
        ],
        "story": [
            ("Un momento di quiete", "Per un po', tutto fu tranquillo.", "Ma la quiete dura di rado."),
            ("Una scelta", "Poi arrivò una scelta.", "E ogni scelta apre una strada nuova."),
            ("Uno sguardo avanti", "Nessuno sapeva cosa sarebbe successo dopo.", "Anche questo faceva parte dell'avventura."),
            ("La lezione", "Ogni storia porta con sé una lezione.", "Questa parla di coraggio e di pazienza."),
        ],
    },
    # the closing scene of each style
    "outros": {
        "explainer": ("Da ricordare", "Ecco, in poche parole, tutto ciò che riguarda {t}.", "Ora sai come si incastrano i pezzi."),
        "documentary": ("Ciò che resta", "I grandi cambiamenti nascono da piccoli inizi.", "E per {t}, la storia è ancora tutta da scrivere."),
        "promo": ("A presto", "Vieni a vedere di persona.", "Non vediamo l'ora di accoglierti."),
        "tutorial": ("Ce l'hai fatta", "Ed ecco fatto: ora conosci l'essenziale.", "Ripeti ogni passo ancora una volta e presto ti verrà naturale."),
        "story": ("Fine", "E così la storia giunge al termine.", "La sua eco continua ben oltre l'ultima parola."),
    },
    # the last, very short sentence lets short videos close without overrunning their word budget
    "thanks": ("Grazie per la visione", "Se ti è stato utile, condividilo con qualcuno curioso come te.", "Grazie per la visione."),
    # said before a brief's facts come round again in a very long video
    "again": ["Ricapitolando: {x}", "Ancora una volta: {x}", "Ricorda: {x}", "In breve: {x}", "Tieni a mente: {x}"],
}
