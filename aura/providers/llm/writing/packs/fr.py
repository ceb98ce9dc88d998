"""French: the offline writer's structures, connective sentences and spoken forms."""

PACK = {
    "code": "fr",
    "name": "French",
    # --- lists and spoken forms -------------------------------------------------------------
    "answer": "la réponse",  # the topic of a question brief, in frames that name it
    "it_all": "tout cela",  # the topic of a brief that is all content
    "and": "et",
    "to": "à",  # "pages 10 à 12"
    "range": "de {a} à {b}",
    "percent": "pour cent",
    "scale": {"k": "mille", "m": "millions", "b": "milliards", "bn": "milliards", "t": "billions"},
    "currency": {"$": "dollars", "€": "euros", "£": "livres", "¥": "yens"},
    "scaled_money": "{n} {scale} de {currency}",  # "4.2 million dollars"
    "quarter": "le {nth} trimestre {year}",
    "quarter_alone": "le {nth} trimestre",
    "ordinals": ["premier", "deuxième", "troisième", "quatrième"],
    "twelve_hour": False,
    "hour": "{h} heures",
    "days": {
        "lun": "lundi", "mar": "mardi", "mer": "mercredi", "jeu": "jeudi",
        "ven": "vendredi", "sam": "samedi", "dim": "dimanche",
    },
    # words that mark a fact's kind (lower case, matched as whole words or prefixes ending in *)
    "offer_words": ["réduction*", "reduction*", "remise*", "promo*", "soldes", "gratuit*", "offert*", "offre*", "économis*", "coupon*", "seulement", "spécial*"],
    "open_words": ["ouvert*"],  # opening hours: with a time or a day, the fact says when
    "where_words": ["à", "au", "près", "rue", "avenue", "route", "centre*", "situé*", "visitez", "retrouvez"],
    "step_words": ["abord", "ensuite", "puis", "après", "enfin", "dernier*", "étape*", "une fois", "avant", "commence*"],
    # sentences that lead a brief question into its answer
    "question": ("{Q}", "Découvrons-le ensemble, une étape à la fois."),
    "audience": ("Une vidéo pour {a}", "Cette vidéo a été pensée pour {a}.", "On reste clair, simple, et on va droit au but."),
    # the opening scene of each style: (on-screen phrase, sentence, sentence)
    "hooks": {
        "explainer": ("{Title}", "Vous êtes-vous déjà posé des questions sur {t} ?", "Décortiquons tout ça, pièce par pièce."),
        "documentary": ("{Title}", "Voici une histoire sur {t}.", "D'où ça vient, comment ça a changé, et pourquoi c'est important."),
        "promo": ("{Title}", "Vous cherchez {t} ?", "Voici ce qu'il faut savoir."),
        "tutorial": ("{Title}", "Dans ce tutoriel, vous allez tout apprendre sur {t}.", "On avance étape par étape, sans rien oublier."),
        "story": ("{Title}", "Il n'y a pas si longtemps, une histoire a commencé.", "C'est une histoire sur {t}."),
    },
    # sentences that open a section of the brief's own facts; one is used when the duration has room
    "leads": {
        "offer": ["Voici l'offre.", "Et voici le meilleur."],
        "details": ["Maintenant, les détails.", "Et ce n'est pas tout."],
        "when": ["Notez-le dans votre agenda.", "Voici quand venir."],
        "where": ["Voici où ça se passe."],
        "steps": ["Voyons ça étape par étape.", "Voici comment il faut s'y prendre."],
        "timeline": ["Revenons au tout début.", "Voici comment tout s'est déroulé."],
        "parts": ["Tout se résume à quelques éléments.", "Voyons chaque élément, un par un."],
        "beginning": ["Tout a commencé assez simplement."],
        "turn": ["Puis tout a changé."],
        "end": ["Et à la fin, voici ce qui s'est passé."],
        "documents": ["Voici ce que nous disent les documents.", "Les notes en disent plus."],
    },
    # connectives put before a fact (in order) in the structures that need them
    "steps": ["D'abord, {x}", "Ensuite, {x}", "Puis, {x}", "Après ça, {x}", "Enfin, {x}"],
    "step_label": "Étape {n}",
    "recap": {
        "explainer": ("En résumé", "Pour résumer : {items}."),
        "documentary": ("Avec le recul", "Avec le recul, tout se résume à ceci : {items}."),
        "promo": ("À ne pas manquer", "À ne pas manquer : {items}."),
        "tutorial": ("Récapitulatif", "Petit récapitulatif : {items}."),
        "story": ("Avec le recul", "Avec le recul : {items}."),
    },
    # generic scenes, only when the brief has run out of material and the duration asks for more
    "fillers": {
        "explainer": [
            ("Pourquoi c'est important", "Pourquoi {t}, c'est important ?", "Parce que ça nous aide à comprendre le monde qui nous entoure."),
            ("De plus près", "Regardez de plus près, et des motifs apparaissent.", "Les mêmes idées reviennent sans cesse."),
            ("Un exemple concret", "Pensez à un exemple concret que vous avez peut-être vu.", "Quand on sait quoi chercher, c'est facile à repérer."),
            ("Cause et effet", "Chaque effet devient, à son tour, une cause.", "Et avec {t}, c'est cette chaîne qui passionne."),
            ("Mythes et réalités", "Quelques idées reçues méritent d'être corrigées.", "La vérité est souvent plus simple, et plus intéressante."),
            ("Échelle et durée", "Le moment compte autant que la taille.", "Certains changements prennent des secondes, d'autres des années."),
        ],
        "documentary": [
            ("Le décor", "Chaque histoire a son décor.", "Et ce décor a façonné la suite."),
            ("Les gens", "Derrière chaque changement, il y a des gens.", "Leurs choix ont laissé une trace encore visible aujourd'hui."),
            ("Les archives", "Une grande partie de ce qu'on sait vient d'archives minutieuses.", "Chacune ajoute une pièce au tableau."),
            ("Hier et aujourd'hui", "Comparez hier et aujourd'hui.", "La différence montre tout le chemin parcouru."),
            ("L'héritage", "Ce qui reste, c'est un héritage.", "Et il façonne encore {t} aujourd'hui."),
        ],
        "promo": [
            ("Pourquoi ce choix", "Pourquoi faire ce choix ?", "Parce que la qualité, ça se remarque tout de suite."),
            ("Fait avec soin", "Tout est fait avec soin.", "Chaque détail a sa raison d'être."),
            ("Pour vous", "C'est pensé pour des gens comme vous.", "Simple, honnête, et ça vaut le détour."),
            ("Voyez par vous-même", "Le mieux, c'est de venir voir par vous-même.", "Une visite en dit plus que n'importe quelle pub."),
        ],
        "tutorial": [
            ("Avant de commencer", "Avant de commencer, prenez un moment pour vous préparer.", "Avoir tout sous la main facilite chaque étape."),
            ("Une erreur fréquente", "Attention à une erreur fréquente.", "Se précipiter fait souvent perdre plus de temps qu'on n'en gagne."),
            ("Vérifiez votre travail", "Vérifiez votre travail au fur et à mesure.", "Une petite vérification maintenant évite une grosse correction plus tard."),
            ("La pratique", "La pratique rend tout plus facile.", "La deuxième fois va toujours plus vite que la première."),
        ],
        "story": [
            ("Un moment de calme", "Pendant un temps, tout fut calme.", "Mais le calme dure rarement."),
            ("Un choix", "Puis vint un choix.", "Et chaque choix ouvre un nouveau chemin."),
            ("Et après", "Personne ne savait ce qui allait suivre.", "Ça faisait partie de l'aventure."),
            ("La leçon", "Chaque histoire porte une leçon.", "Celle-ci parle de courage et de patience."),
        ],
    },
    # the closing scene of each style
    "outros": {
        "explainer": ("À retenir", "Voilà, vous savez l'essentiel sur {t}.", "Vous voyez maintenant comment les pièces s'assemblent."),
        "documentary": ("Ce qui reste", "Les grands changements naissent de petits débuts.", "Et avec {t}, l'histoire continue de s'écrire."),
        "promo": ("À bientôt", "Venez voir par vous-même.", "Nous avons hâte de vous accueillir."),
        "tutorial": ("Vous avez réussi", "Et voilà : vous connaissez maintenant l'essentiel.", "Refaites chaque étape une fois, et ce sera vite naturel."),
        "story": ("Fin", "Et c'est ainsi que l'histoire s'achève.", "Son écho résonne bien après le dernier mot."),
    },
    # the last, very short sentence lets short videos close without overrunning their word budget
    "thanks": ("Merci d'avoir regardé", "Si ça vous a aidé, partagez cette vidéo avec quelqu'un d'aussi curieux.", "Merci d'avoir regardé."),
    # said before a brief's facts come round again in a very long video
    "again": ["Pour récapituler : {x}", "Encore une fois : {x}", "Souvenez-vous : {x}", "En bref : {x}", "À retenir : {x}"],
}
