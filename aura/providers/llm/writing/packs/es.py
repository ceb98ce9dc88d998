"""Spanish: the offline writer's structures, connective sentences and spoken forms."""

PACK = {
    "code": "es",
    "name": "Spanish",
    # --- lists and spoken forms -------------------------------------------------------------
    "answer": "la respuesta",  # the topic of a question brief, in frames that name it
    "it_all": "todo esto",  # the topic of a brief that is all content
    "and": "y",
    "to": "a",  # "páginas 10 a 12"
    "range": "de {a} a {b}",
    "percent": "por ciento",
    "scale": {"k": "mil", "m": "millones", "b": "mil millones", "bn": "mil millones", "t": "billones"},
    "currency": {"$": "dólares", "€": "euros", "£": "libras", "¥": "yenes"},
    "scaled_money": "{n} {scale} de {currency}",  # "4.2 million dollars"
    "quarter": "el {nth} trimestre de {year}",
    "quarter_alone": "el {nth} trimestre",
    "ordinals": ["primer", "segundo", "tercer", "cuarto"],
    "twelve_hour": False,
    "hour": "{h} horas",
    "days": {
        "lun": "lunes", "mar": "martes", "mié": "miércoles", "mie": "miércoles", "jue": "jueves",
        "vie": "viernes", "sáb": "sábado", "sab": "sábado", "dom": "domingo",
    },
    # words that mark a fact's kind (lower case, matched as whole words or prefixes ending in *)
    "offer_words": ["descuento*", "oferta*", "gratis", "rebaja*", "promo*", "cupón", "cupon*", "solo", "sólo", "ahorra*", "especial*"],
    "open_words": ["abierto*"],  # opening hours: with a time or a day, the fact says when
    "where_words": ["en", "cerca", "calle", "avenida", "carretera", "centro", "ubicado*", "situado*", "visítanos", "encuéntranos"],
    "step_words": ["primero", "luego", "después", "siguiente", "finalmente", "último", "paso", "una vez", "antes", "empieza*"],
    # sentences that lead a brief question into its answer
    "question": ("{Q}", "Vamos a descubrirlo, paso a paso."),
    "audience": ("Pensado para {a}", "Este vídeo está pensado para {a}.", "Iremos al grano, de forma clara y sencilla."),
    # the opening scene of each style: (on-screen phrase, sentence, sentence)
    "hooks": {
        "explainer": ("{Title}", "¿Alguna vez te has preguntado sobre {t}?", "Vamos a verlo por partes, pieza a pieza."),
        "documentary": ("{Title}", "Esta es una historia sobre {t}.", "De dónde viene, cómo cambió y por qué importa."),
        "promo": ("{Title}", "¿Buscas {t}?", "Esto es lo que necesitas saber."),
        "tutorial": ("{Title}", "En este tutorial aprenderás sobre {t}.", "Iremos paso a paso, sin dejarnos nada por el camino."),
        "story": ("{Title}", "Hace no tanto tiempo, empezó una historia.", "Es una historia sobre {t}."),
    },
    # sentences that open a section of the brief's own facts; one is used when the duration has room
    "leads": {
        "offer": ["Esta es la oferta.", "Y ahora, lo mejor de todo."],
        "details": ["Ahora, los detalles.", "Pero aún hay más."],
        "when": ["Apúntalo en tu calendario.", "Apunta cuándo puedes venir."],
        "where": ["Te contamos cómo llegar."],
        "steps": ["Vamos a verlo paso a paso.", "Así es como se hace."],
        "timeline": ["Volvamos al principio de todo.", "Así es como sucedió todo."],
        "parts": ["Todo se reduce a unas pocas partes.", "Veamos cada parte, una por una."],
        "beginning": ["Todo empezó de forma bastante sencilla."],
        "turn": ["Entonces, todo cambió."],
        "end": ["Y al final, esto es lo que pasó."],
        "documents": ["Esto es lo que nos dicen los documentos.", "Las notas añaden algo más."],
    },
    # connectives put before a fact (in order) in the structures that need them
    "steps": ["Primero, {x}", "Después, {x}", "Luego, {x}", "A continuación, {x}", "Por último, {x}"],
    "step_label": "Paso {n}",
    "recap": {
        "explainer": ("Resumen", "En resumen: {items}."),
        "documentary": ("Mirando atrás", "Mirando atrás, todo se reduce a esto: {items}."),
        "promo": ("No te lo pierdas", "No te lo pierdas: {items}."),
        "tutorial": ("Resumen", "Un repaso rápido: {items}."),
        "story": ("Mirando atrás", "Mirando atrás: {items}."),
    },
    # generic scenes, only when the brief has run out of material and the duration asks for more
    "fillers": {
        "explainer": [
            ("Por qué importa", "¿Por qué importa {t}?", "Porque nos ayuda a entender el mundo que nos rodea."),
            ("Una mirada de cerca", "Si miras de cerca, aparecen patrones.", "Las mismas ideas se repiten una y otra vez."),
            ("Un ejemplo real", "Piensa en un ejemplo real que quizá hayas visto.", "Una vez que sabes qué buscar, es muy fácil de reconocer."),
            ("Causa y efecto", "Fíjate en cómo cada efecto se convierte en causa.", "Esa cadena hace que {t} sea tan interesante."),
            ("Mitos y realidades", "Vale la pena aclarar algunos mitos comunes.", "La verdad suele ser más simple, y más interesante."),
            ("Escala y tiempo", "El momento importa tanto como el tamaño.", "Algunos cambios duran segundos; otros, años."),
        ],
        "documentary": [
            ("El escenario", "Toda historia tiene un escenario.", "Y ese escenario marcó lo que vino después."),
            ("Las personas", "Detrás de cada cambio hay personas.", "Sus decisiones dejaron una huella que aún se ve hoy."),
            ("Los registros", "Mucho de lo que sabemos viene de registros cuidadosos.", "Cada uno añade una pieza al rompecabezas."),
            ("Antes y ahora", "Compara el antes y el ahora.", "La diferencia muestra cuánto hemos avanzado."),
            ("El legado", "Lo que queda es un legado.", "Y todavía hoy sigue marcando {t}."),
        ],
        "promo": [
            ("Por qué elegirlo", "¿Por qué elegirlo?", "Porque la calidad se nota desde el primer momento."),
            ("Hecho con cariño", "Todo está hecho con cariño.", "Cada detalle está ahí por una razón."),
            ("Para ti", "Está pensado para gente como tú.", "Sencillo, honesto y vale la pena."),
            ("Compruébalo tú mismo", "La mejor forma de saberlo es comprobarlo tú mismo.", "Una visita dice más que cualquier anuncio."),
        ],
        "tutorial": [
            ("Antes de empezar", "Antes de empezar, tómate un momento para prepararte.", "Con todo listo, cada paso resulta más fácil."),
            ("Un error común", "Cuidado con un error muy común.", "Ir con prisa suele costar más tiempo del que ahorra."),
            ("Revisa tu trabajo", "Revisa tu trabajo sobre la marcha.", "Una pequeña revisión ahora evita un gran arreglo después."),
            ("Práctica", "Con práctica, todo es más fácil.", "La segunda vez siempre sale más rápido que la primera."),
        ],
        "story": [
            ("Un momento de calma", "Durante un tiempo, todo estuvo en calma.", "Pero la calma rara vez dura."),
            ("Una decisión", "Entonces llegó una decisión.", "Y cada decisión lleva a un lugar nuevo."),
            ("Lo que vendría", "Nadie sabía lo que vendría después.", "Eso era parte de la aventura."),
            ("La lección", "Toda historia deja una lección.", "Esta habla de valor y de paciencia."),
        ],
    },
    # the closing scene of each style
    "outros": {
        "explainer": ("Recuerda", "Y esa es la versión corta sobre {t}.", "Ahora ya sabes cómo encajan las piezas."),
        "documentary": ("Lo que queda", "Los grandes cambios nacen de pequeños comienzos.", "Y la historia sobre {t} aún se está escribiendo."),
        "promo": ("Hasta pronto", "Ven y compruébalo tú mismo.", "Estamos deseando darte la bienvenida."),
        "tutorial": ("¡Lo lograste!", "Y eso es todo: ya conoces lo esencial.", "Repite cada paso una vez más y pronto te saldrá solo."),
        "story": ("Fin", "Y así, la historia llega a su fin.", "Su eco sigue sonando mucho después de la última palabra."),
    },
    # the last, very short sentence lets short videos close without overrunning their word budget
    "thanks": ("Gracias por vernos", "Si te ha servido, compártelo con alguien igual de curioso.", "Gracias por vernos."),
    # said before a brief's facts come round again in a very long video
    "again": ["Repasemos: {x}", "Una vez más: {x}", "Recuerda: {x}", "En pocas palabras: {x}", "Ten en cuenta: {x}"],
}
