"""Deterministic generated text for the demo models and the demo/benchmark WET files.

Everything here is produced by small template grammars from word lists written for kllama (no third-party
text), so it can be bundled and regenerated. Four languages (en, de, fr, es) for language id; English prose
in two registers: ``wiki`` (encyclopedic, the Wikipedia-reference classifier's positives and the LM's
training text) and ``web`` (shop/spam pages, the classifier's negatives); boilerplate lines shared by many
pages (what line dedup removes); and ``junk`` word salad (high perplexity, the LM's tail bucket).
"""

from __future__ import annotations

import random

_EN = {
    "noun": "river town castle church bridge museum university railway valley island mountain library harbour "
            "village cathedral province festival species painting treaty kingdom language garden factory".split(),
    "adj": "old large small northern southern ancient famous important historic medieval modern rural "
           "coastal royal public central eastern western main local".split(),
    "place": "the region the county the north of the country the river delta the old city the eastern "
             "province the mountain range the coastal plain the capital the lake district".split(" the "),
    "person": "a local merchant the first king a group of monks the city council a french engineer "
              "a famous architect the royal family a wealthy family the state government".split(" a "),
    "verb": "was built was founded was rebuilt was described was opened was enlarged was restored was named "
            "was recorded was mentioned".split(" was "),
    "fact": ["it is known for its {adj} {noun}", "it has a population of about {num} people",
             "the {noun} is one of the oldest in {place}", "it lies near the {adj} {noun}",
             "the name comes from an {adj} word for {noun}", "today it is a popular place for visitors",
             "the {noun} was damaged during the war and later restored",
             "its {adj} {noun} is listed as a protected monument", "the area is rich in history",
             "many of its buildings date from the {ord} century"],
}
_EN_WEB = ["buy cheap {item} online now", "best price on {item} with free shipping",
           "click here to get your {item} today", "limited offer {pct} percent off all {item}",
           "order now and save on {item}", "top rated {item} deals for you", "shop the best {item} here",
           "get {item} fast cheap and easy", "hot sale {item} discount code inside",
           "win a free {item} sign up now"]
_EN_ITEMS = ("phones shoes watches laptops bags shirts games loans pills tickets cameras headphones "
             "sunglasses jackets").split()
BOILERPLATE = [
    "Home | About us | Contact | Privacy policy",
    "Copyright 2024 All rights reserved.",
    "This website uses cookies to improve your experience.",
    "Subscribe to our newsletter",
    "Follow us on social media",
    "Skip to main content",
    "Terms of use | Sitemap | Help",
    "Share this page: Facebook Twitter Email",
    "Log in or register to post comments",
    "Powered by WordPress",
]
_LANGS = {
    "de": ("der die das und ist war ein eine mit von zu den im nicht auch auf für sich dem des wird "
           "stadt fluss kirche burg dorf jahrhundert gebaut bekannt heute alte große kleine nördlichen "
           "gemeinde landkreis geschichte einwohner bahnhof schule rathaus brücke über unter nach bei"),
    "fr": ("le la les et est était un une avec de du des en dans pour sur que qui ne pas au aux "
           "ville rivière église château village siècle construit connu aujourd'hui ancien grande petite "
           "commune région histoire habitants gare école mairie pont sous après chez très"),
    "es": ("el la los las y es era un una con de del en por para que se no su al lo como "
           "ciudad río iglesia castillo pueblo siglo construido conocido hoy antiguo grande pequeña "
           "municipio región historia habitantes estación escuela ayuntamiento puente sobre después muy"),
}


def _fill(rng: random.Random, template: str) -> str:
    return template.format(
        adj=rng.choice(_EN["adj"]), noun=rng.choice(_EN["noun"]), place=rng.choice(_EN["place"]).strip(),
        num=f"{rng.randint(2, 90)},{rng.randint(100, 999)}", ord=rng.choice(["twelfth", "fifteenth", "eighteenth"]),
        item=rng.choice(_EN_ITEMS), pct=rng.choice([10, 20, 30, 50, 70]))


def wiki_sentence(rng: random.Random) -> str:
    """One encyclopedic English sentence."""
    if rng.random() < 0.5:
        s = (f"The {rng.choice(_EN['adj'])} {rng.choice(_EN['noun'])} was {rng.choice(_EN['verb']).strip()} "
             f"in {rng.randint(1100, 1990)} by {rng.choice(_EN['person']).strip()}")
    else:
        s = _fill(rng, rng.choice(_EN["fact"]))
    return s[0].upper() + s[1:] + "."


def web_sentence(rng: random.Random) -> str:
    """One shop/spam English sentence."""
    s = _fill(rng, rng.choice(_EN_WEB))
    return s[0].upper() + s[1:] + rng.choice(["!", "!!", ".", " now!"])


def junk_line(rng: random.Random) -> str:
    """Word salad: letters and words in random order (high perplexity)."""
    words = [("".join(rng.choice("qxzjkvwy") for _ in range(rng.randint(3, 9)))) for _ in range(rng.randint(8, 16))]
    return " ".join(words)


def other_sentence(rng: random.Random, lang: str) -> str:
    """A sentence-like string in de/fr/es from its word list."""
    words = _LANGS[lang].split()
    s = " ".join(rng.choice(words) for _ in range(rng.randint(8, 16)))
    return s[0].upper() + s[1:] + "."


def paragraph(rng: random.Random, kind: str, n: int) -> str:
    if kind == "wiki":
        return " ".join(wiki_sentence(rng) for _ in range(n))
    if kind == "web":
        return " ".join(web_sentence(rng) for _ in range(n))
    if kind == "junk":
        return junk_line(rng)
    return " ".join(other_sentence(rng, kind) for _ in range(n))


def page(rng: random.Random, kind: str) -> tuple[str, str]:
    """A web page's (title, body lines) of a kind: wiki | web | junk | de | fr | es."""
    lines: list[str] = []
    lines.extend(rng.sample(BOILERPLATE, 3))
    for _ in range(rng.randint(3, 7)):
        lines.append(paragraph(rng, kind, rng.randint(2, 5)))
    lines.extend(rng.sample(BOILERPLATE, 2))
    title = {"wiki": "History of the {noun}", "web": "Cheap {item} store", "junk": "index"}.get(kind, kind)
    return _fill(rng, title) if "{" in title else title, lines


def lid_training_lines(seed: int = 0, per_lang: int = 300) -> list[str]:
    """fastText supervised lines ``__label__xx text`` for en, de, fr, es."""
    rng = random.Random(seed)
    out = []
    for _ in range(per_lang):
        out.append("__label__en " + paragraph(rng, rng.choice(["wiki", "web"]), rng.randint(1, 3)))
        for lang in ("de", "fr", "es"):
            out.append(f"__label__{lang} " + paragraph(rng, lang, rng.randint(1, 3)))
    rng.shuffle(out)
    return out


def lm_training_lines(seed: int = 1, n: int = 3000) -> list[str]:
    """English encyclopedic lines (cc_net trains its LMs on Wikipedia)."""
    rng = random.Random(seed)
    return [paragraph(rng, "wiki", rng.randint(1, 4)) for _ in range(n)]


def classifier_training_lines(seed: int = 2, n: int = 400) -> list[str]:
    """``__label__wiki`` (encyclopedic pages) vs ``__label__cc`` (shop/spam/junk pages), one page a line."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        out.append("__label__wiki " + paragraph(rng, "wiki", rng.randint(3, 8)))
        kind = rng.choice(["web", "web", "junk"])
        body = paragraph(rng, kind, rng.randint(3, 8)) + " " + " ".join(rng.sample(BOILERPLATE, 2))
        out.append("__label__cc " + body)
    rng.shuffle(out)
    return out


def salad_line(rng: random.Random) -> str:
    """English words of the encyclopedic register in random order (English, but high perplexity)."""
    words = wiki_sentence(rng).lower().rstrip(".").split() + wiki_sentence(rng).lower().rstrip(".").split()
    rng.shuffle(words)
    return " ".join(words)


_TLDS = ["com", "org", "net", "info", "de", "fr", "es"]


def demo_pages(seed: int, n: int, date_prefix: str, recrawl: list[dict] | None = None) -> list[dict]:
    """``n`` WET pages of a demo crawl: mostly encyclopedic English, plus shop pages, word salad, other
    languages, boilerplate-only pages, short pages; ``recrawl`` pages are included again as they are (the
    same text, sometimes under another URL), as a later snapshot would."""
    rng = random.Random(seed)
    kinds = (["wiki"] * 9 + ["web"] * 4 + ["salad"] * 2 + ["de", "fr", "es"] + ["boiler"] + ["short"])
    pages = []
    for i in range(n):
        kind = kinds[i % len(kinds)] if i < len(kinds) else rng.choice(kinds)
        title, lines = page(rng, "wiki" if kind in ("salad", "boiler", "short") else kind)
        if kind == "salad":
            lines = lines[:3] + [salad_line(rng) for _ in range(6)] + lines[-2:]
        elif kind == "boiler":
            lines = rng.sample(BOILERPLATE, len(BOILERPLATE))
        elif kind == "short":
            lines = [wiki_sentence(rng)]
        elif kind == "wiki" and rng.random() < 0.3:
            lines.insert(len(lines) - 2, lines[3])  # a line repeated inside the page
        host = f"site{rng.randint(1, 999)}.{rng.choice(_TLDS)}"
        date = f"{date_prefix}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"
        lang = {"wiki": "eng", "web": "eng", "de": "deu", "fr": "fra", "es": "spa"}.get(kind)
        pages.append({"url": f"https://{host}/{kind}/{i}", "date": date, "title": title, "lines": lines,
                      "kind": kind, "lang": lang if rng.random() < 0.5 else None})
    for j, p in enumerate(recrawl or []):
        q = dict(p)
        q["date"] = f"{date_prefix}T12:00:{j % 60:02d}Z"
        if j % 2:
            q["url"] = p["url"].replace("https://", "https://www.")
        pages.append(q)
    return pages
