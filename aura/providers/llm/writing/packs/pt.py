"""Portuguese: the offline writer's structures, connective sentences and spoken forms."""

PACK = {
    "code": "pt",
    "name": "Portuguese",
    # --- lists and spoken forms -------------------------------------------------------------
    "answer": "a resposta",  # the topic of a question brief, in frames that name it
    "it_all": "tudo isto",  # the topic of a brief that is all content
    "and": "e",
    "to": "a",  # "páginas 10 a 12"
    "range": "de {a} a {b}",
    "percent": "por cento",
    "scale": {"k": "mil", "m": "milhões", "b": "mil milhões", "bn": "mil milhões", "t": "biliões"},
    "currency": {"$": "dólares", "€": "euros", "£": "libras", "¥": "ienes"},
    "scaled_money": "{n} {scale} de {currency}",  # "4.2 million dollars"
    "quarter": "o {nth} trimestre de {year}",
    "quarter_alone": "o {nth} trimestre",
    "ordinals": ["primeiro", "segundo", "terceiro", "quarto"],
    "twelve_hour": False,
    "hour": "{h} horas",
    "days": {
        "seg": "segunda-feira", "ter": "terça-feira", "qua": "quarta-feira", "qui": "quinta-feira",
        "sex": "sexta-feira", "sáb": "sábado", "sab": "sábado", "dom": "domingo",
    },
    # words that mark a fact's kind (lower case, matched as whole words or prefixes ending in *)
    "offer_words": ["desconto*", "oferta*", "grátis", "gratis", "promo*", "saldo*", "cupão", "cupom", "só", "apenas", "poupe", "economize", "especia*"],
    "open_words": ["aberto*"],  # opening hours: with a time or a day, the fact says when
    "where_words": ["em", "no", "na", "perto", "rua", "avenida", "estrada", "centro", "localizado*", "visite"],
    "step_words": ["primeiro", "depois", "em seguida", "a seguir", "finalmente", "por fim", "passo", "antes", "comece", "começ*"],
    # sentences that lead a brief question into its answer
    "question": ("{Q}", "Vamos descobrir juntos, um passo de cada vez."),
    "audience": ("Feito para {a}", "Este vídeo foi feito para {a}.", "Vamos manter tudo claro, simples e direto ao ponto."),
    # the opening scene of each style: (on-screen phrase, sentence, sentence)
    "hooks": {
        "explainer": ("{Title}", "Já pensou sobre {t}?", "Vamos por partes, uma de cada vez."),
        "documentary": ("{Title}", "Esta é uma história sobre {t}.", "De onde vem, como mudou e qual a sua importância."),
        "promo": ("{Title}", "Procura {t}?", "Aqui está tudo o que importa saber."),
        "tutorial": ("{Title}", "Neste tutorial, vai aprender tudo sobre {t}.", "Vamos passo a passo, sem deixar nada de fora."),
        "story": ("{Title}", "Não há muito tempo, começou uma história.", "É uma história sobre {t}."),
    },
    # sentences that open a section of the brief's own facts; one is used when the duration has room
    "leads": {
        "offer": ["Aqui está a oferta.", "E agora, a melhor parte."],
        "details": ["Agora, os detalhes.", "E ainda há mais."],
        "when": ["Anote na agenda.", "Saiba quando pode vir."],
        "where": ["Veja aqui como chegar."],
        "steps": ["Vamos ver tudo passo a passo.", "É assim que se faz."],
        "timeline": ["Vamos voltar ao início.", "Foi assim que tudo aconteceu."],
        "parts": ["Tudo se resume a algumas partes.", "Vamos ver cada parte, uma a uma."],
        "beginning": ["Tudo começou de forma simples."],
        "turn": ["Então, tudo mudou."],
        "end": ["E no fim, foi isto que aconteceu."],
        "documents": ["Eis o que os documentos nos dizem.", "As notas acrescentam mais."],
    },
    # connectives put before a fact (in order) in the structures that need them
    "steps": ["Primeiro, {x}", "Depois, {x}", "Em seguida, {x}", "A seguir, {x}", "Por fim, {x}"],
    "step_label": "Passo {n}",
    "recap": {
        "explainer": ("Resumo", "Então, resumindo: {items}."),
        "documentary": ("Olhando para trás", "Olhando para trás, tudo se resume a isto: {items}."),
        "promo": ("Não perca", "Não perca: {items}."),
        "tutorial": ("Resumo", "Um resumo rápido: {items}."),
        "story": ("Olhando para trás", "Olhando para trás: {items}."),
    },
    # generic scenes, only when the brief has run out of material and the duration asks for more
    "fillers": {
        "explainer": [
            ("Qual a importância", "Por que razão {t} é importante?", "Porque nos ajuda a entender o mundo à nossa volta."),
            ("Um olhar atento", "Olhando com atenção, surgem padrões.", "As mesmas ideias aparecem uma e outra vez."),
            ("Um exemplo real", "Pense num exemplo real que talvez já tenha visto.", "Quando se sabe o que procurar, é fácil reconhecer."),
            ("Causa e efeito", "Repare como cada efeito se torna uma nova causa.", "É essa cadeia que torna {t} tão interessante."),
            ("Mitos e verdades", "Vale a pena esclarecer alguns mitos comuns.", "A verdade costuma ser mais simples, e mais interessante."),
            ("Escala e tempo", "O momento conta tanto quanto o tamanho.", "Algumas mudanças levam segundos, outras levam anos."),
        ],
        "documentary": [
            ("O cenário", "Cada história tem o seu cenário.", "E esse cenário moldou o que veio a seguir."),
            ("As pessoas", "Por trás de cada mudança, há pessoas.", "As suas escolhas deixaram marcas ainda visíveis hoje."),
            ("Os arquivos", "Muito do que sabemos vem de arquivos minuciosos.", "Cada um acrescenta uma peça ao quadro."),
            ("Antes e agora", "Compare o antes e o agora.", "A diferença mostra o quanto se avançou."),
            ("O legado", "O que fica é um legado.", "Um legado que ainda hoje molda {t}."),
        ],
        "promo": [
            ("O que faz a diferença", "O que faz a diferença?", "A qualidade, algo que se percebe logo de início."),
            ("Feito com cuidado", "Tudo é feito com cuidado.", "Cada detalhe está lá por um motivo."),
            ("Para quem valoriza", "Foi pensado para quem valoriza o essencial.", "Simples, honesto e vale a pena."),
            ("Comprove", "A melhor forma de saber é experimentar.", "Uma visita diz mais do que qualquer anúncio."),
        ],
        "tutorial": [
            ("Antes de começar", "Antes de começar, reserve um momento para se preparar.", "Ter tudo pronto torna cada passo mais fácil."),
            ("Um erro comum", "Cuidado com um erro comum.", "Apressar um passo costuma custar mais tempo do que poupa."),
            ("Verifique o trabalho", "Verifique o trabalho à medida que avança.", "Uma pequena verificação agora evita uma grande correção depois."),
            ("Prática", "Com prática, tudo fica mais fácil.", "A segunda vez é sempre mais rápida do que a primeira."),
        ],
        "story": [
            ("Um momento de calma", "Durante algum tempo, tudo esteve calmo.", "Mas a calma raramente dura."),
            ("Uma escolha", "Então, surgiu uma escolha.", "E cada escolha leva a um lugar novo."),
            ("O que viria", "Ninguém sabia o que viria a seguir.", "Isso fazia parte da aventura."),
            ("A lição", "Cada história traz uma lição.", "Esta fala de coragem e de paciência."),
        ],
    },
    # the closing scene of each style
    "outros": {
        "explainer": ("Para lembrar", "Esta foi a versão curta sobre {t}.", "Agora já sabe como as peças se encaixam."),
        "documentary": ("O que fica", "As grandes mudanças nascem de pequenos começos.", "E a história sobre {t} ainda não terminou."),
        "promo": ("Até breve", "Venha ver com os seus próprios olhos.", "Contamos com a sua visita."),
        "tutorial": ("Missão cumprida", "E é isso: já conhece o essencial.", "Repita cada passo mais uma vez e logo será natural."),
        "story": ("Fim", "E assim a história chega ao fim.", "O seu eco continua muito depois da última palavra."),
    },
    # the last, very short sentence lets short videos close without overrunning their word budget
    "thanks": ("Obrigado por assistir", "Se foi útil, mostre a alguém que também seja curioso.", "Obrigado por assistir."),
    # said before a brief's facts come round again in a very long video
    "again": ["Recapitulando: {x}", "Mais uma vez: {x}", "Lembre-se: {x}", "Em suma: {x}", "Não se esqueça: {x}"],
}
