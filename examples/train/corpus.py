"""Deterministic generator of a code-switched (Mandarin / English / Malay) social-media corpus.

Why: the text example trains a tokenizer and a small sentiment + token-level language-ID model, and
needs chat-style text as Malaysian / Singaporean users write it, with labels that are exactly right.
What: sentences are built from the hand-written phrase lexicons in corpus_lexicon.py by templates
(subject + evaluation, experiences, closers, questions, plans) that switch language between and
inside clauses and add emoji, prices, URLs, @mentions, #hashtags, elongations and slang. The
sentiment comes from the template; the word spans and their languages (zh / en / ms / other) are
derived from the text by one fixed rule (`words`), so a word form always gets the same label.
Standard library only; `random.Random(seed)` only, so the same seed gives the same corpus.

    .venv/bin/python examples/train/corpus.py --out examples/train/data/textclf [--seed 0]
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus_lexicon as lex  # noqa: E402

SENTIMENTS = ("negative", "neutral", "positive")
LANGS = ("zh", "en", "ms", "other")
SPLITS = ("train", "validation", "test")
PER_SENTIMENT = 2400  # unique texts per sentiment class
MIN_WORDS = 3
# Languages a sentence may use, with weights: about a third monolingual, zh+en the commonest mix.
LANG_MIXES = [(("en",), 12), (("zh",), 12), (("ms",), 17), (("zh", "en"), 22), (("ms", "en"), 15),
              (("zh", "ms"), 10), (("zh", "en", "ms"), 12)]


def _pool(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split("|") if x.strip())


def _pools(tree):
    """The lexicon with every `a | b | c` string turned into a tuple."""
    if isinstance(tree, dict):
        return {k: _pools(v) for k, v in tree.items()}
    return _pool(tree)


TOPICS = _pools(lex.TOPICS)
GENERIC, CLOSERS, SLANG = _pools(lex.GENERIC), _pools(lex.CLOSERS), _pools(lex.SLANG)
CONTEXT, GENERIC_NEUTRAL = _pools(lex.CONTEXT), _pools(lex.GENERIC_NEUTRAL)
SUBJECTS, OPENERS, PARTICLES = _pools(lex.SUBJECTS), _pools(lex.OPENERS), _pools(lex.PARTICLES)
PLACES, BRANDS, PRICES = _pools(lex.PLACES), _pools(lex.BRANDS), _pools(lex.PRICES)
TIMES, CLOCKS = _pools(lex.TIMES), _pools(lex.CLOCKS)
DURATIONS, QUICK = _pools(lex.DURATIONS), _pools(lex.QUICK)
COPULAS, NUMBERS, MENTIONS, URLS = (_pool(x) for x in (lex.COPULAS, lex.NUMBERS, lex.MENTIONS, lex.URLS))
END, HASHTAGS = _pools(lex.END), _pools(lex.HASHTAGS)
EMOJI = {k: tuple(v.split()) for k, v in lex.EMOJI.items()}
ELONGATE = frozenset(_pool(lex.ELONGATE))
KEY = {"positive": "pos", "negative": "neg", "neutral": "neu"}

# ---------------------------------------------------------------------------------------------
# Words and their languages: a function of the text alone.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN = re.compile(rf"""
    (?P<other>(?:https?://|www\.)[^\s{CJK}，。！？]+     # URL
      | [#@][A-Za-z0-9_.{CJK}]+                        # #hashtag, @mention
      | [A-Za-z]*[$¥]?\d[A-Za-z0-9.,:/%-]*)            # number, price, time, 5G, RM15, 3pm, 50%
    | (?P<zh>[{CJK}]+)                                 # a run of Chinese characters
    | (?P<latin>[A-Za-z]+(?:['-][A-Za-z]+)*)           # an English or Malay word (don't, kawan-kawan)
    | (?P<sym>\S)                                      # punctuation, emoji
""", re.X)


def _latin_words(pools) -> set[str]:
    if isinstance(pools, dict):
        return set().union(*(_latin_words(v) for v in pools.values()))
    return {m.group().lower() for p in pools for m in TOKEN.finditer(re.sub(r"\{\w+\}", " ", p))
            if m.lastgroup == "latin"}


def _by_lang(lang: str) -> list:
    """Every pool of one language in the lexicon."""
    found = []

    def walk(tree):
        for key, value in tree.items():
            if key == lang:
                found.append(value)
            elif isinstance(value, dict):
                walk(value)
    walk({"t": TOPICS, "g": GENERIC, "c": CLOSERS, "s": SLANG, "x": CONTEXT, "n": GENERIC_NEUTRAL,
          "o": OPENERS, "p": PARTICLES, "pl": PLACES, "pr": PRICES, "ti": TIMES, "cl": CLOCKS,
          "d": DURATIONS, "q": QUICK, "su": SUBJECTS})
    return found


EN_WORDS = set().union(*map(_latin_words, _by_lang("en"))) | set(_pool(lex.SHARED_EN)) | _latin_words(COPULAS)
MS_WORDS = set().union(*map(_latin_words, _by_lang("ms"))) - EN_WORDS  # Malay-only words


REPEAT = re.compile(r"(.)\1{2,}")


@functools.lru_cache(maxsize=None)
def latin_lang(word: str) -> str:
    """`ms` for a word of the Malay lexicon (also when stretched: gilaaa, sedaaap), else `en`."""
    w = word.lower()
    forms = (w, REPEAT.sub(r"\1\1", w), REPEAT.sub(r"\1", w))
    return "ms" if any(f in MS_WORDS for f in forms) else "en"


def words(text: str) -> list[list]:
    """[[start, end, lang], ...]: maximal runs of non-space characters of one language."""
    spans: list[list] = []
    for m in TOKEN.finditer(text):
        kind = m.lastgroup
        lang = "zh" if kind == "zh" else latin_lang(m.group()) if kind == "latin" else "other"
        if spans and spans[-1][1] == m.start() and spans[-1][2] == lang:
            spans[-1][1] = m.end()  # e.g. "!!!" + "😂", or a price followed by "."
        else:
            spans.append([m.start(), m.end(), lang])
    return spans


# ---------------------------------------------------------------------------------------------
# Sentences.
CJK_CHAR = re.compile(f"[{CJK}]")


def _is_cjk(ch: str) -> bool:
    return bool(CJK_CHAR.match(ch))


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _special(part: str) -> bool:
    return part.startswith(("http", "www.", "#", "@"))


def fill(rng: random.Random, template: str, lang: str, langs: tuple, topic: str) -> str:
    """Fill the {slots} of a template written in `lang`; the topic noun may come from another language."""
    def value(m):
        slot = m.group(1)
        if slot == "n":
            noun_lang = lang if rng.random() < 0.55 else rng.choice(langs)
            text = rng.choice(TOPICS[topic]["noun"][noun_lang])
        elif slot == "brand":
            brands = BRANDS[lex.TOPIC_BRANDS[topic]]
            script = [b for b in brands if _is_cjk(b[0]) == (lang == "zh")]
            text = rng.choice(script if script and rng.random() < 0.7 else brands)
            if _is_cjk(text[0]) and "zh" not in langs:
                text = rng.choice([b for b in brands if not _is_cjk(b[0])])
        elif slot == "num":
            text = rng.choice(NUMBERS)
        else:
            pools = {"place": PLACES, "price": PRICES, "time": TIMES, "clock": CLOCKS, "dur": DURATIONS,
                     "quick": QUICK}[slot]
            neutral = pools.get("other", ())
            text = rng.choice(neutral if neutral and rng.random() < 0.5 else pools[lang])
        before = template[m.start() - 1] if m.start() else ""
        after = template[m.end()] if m.end() < len(template) else ""
        if _is_latin(text[0]) and _is_cjk(before or "x") and rng.random() < 0.3:
            text = " " + text
        if _is_latin(text[-1]) and _is_cjk(after or "x") and rng.random() < 0.3:
            text = text + " "
        return text
    return re.sub(r"\{(\w+)\}", value, template)


def stylise(rng: random.Random, part: str, caps: float = 0.07, stretch: float = 0.2) -> str:
    """Sometimes ALL CAPS, sometimes one word stretched (sooo, gilaaa), Chinese slang repeated (哈哈哈哈)."""
    if len(set(part)) == 1 and _is_cjk(part[0]):
        return part[0] * rng.randint(2, 7)
    if rng.random() < stretch:
        candidates = [m for m in re.finditer(r"[A-Za-z]+", part) if m.group().lower() in ELONGATE]
        if candidates:
            m = rng.choice(candidates)
            w = m.group()
            vowels = [j for j, c in enumerate(w.lower()) if c in "aeiou"]
            i = len(w) - 1 if w[-1].lower() in "aeiouhgy" or not vowels else vowels[-1]
            w = w[:i + 1] + w[i] * rng.randint(2, 4) + w[i + 1:]
            part = part[:m.start()] + w + part[m.end():]
    if rng.random() < caps and re.search("[a-z]", part):
        part = part.upper()
    return part


def assign(rng: random.Random, langs: tuple, n: int) -> list[str]:
    """Languages for n clauses: every language of `langs` at least once, the rest at random."""
    chosen = list(langs) + [rng.choice(langs) for _ in range(n - len(langs))]
    rng.shuffle(chosen)
    return chosen


def separator(rng: random.Random, previous: str) -> str:
    if previous and _is_cjk(previous[-1]):
        return rng.choice(["，", "，", ",", "", "。"])
    return rng.choice([",", ",", "", ".", "..."])


def opinion(rng: random.Random, topic: str, sentiment: str, langs: tuple) -> list[str]:
    """Positive or negative: [opener] [context] core (subject + evaluation) / experiences [closer] [slang]."""
    key = KEY[sentiment]
    rant = rng.random() < 0.08
    roles = ["opener"] if rng.random() < 0.12 else []
    roles += ["context"] if rng.random() < (0.8 if rant else 0.25) else []
    n_exp = rng.choice([2, 3, 4, 5]) if rant else rng.choice([0, 0, 1, 1, 2])
    core = ["subject", "eval"] if rng.random() < 0.8 else ["eval"]
    body = core + ["exp"] * n_exp if rng.random() < 0.65 else ["exp"] * n_exp + core
    roles += body
    roles += ["closer"] if rng.random() < (0.7 if rant else 0.3) else []
    roles += ["slang"] if rng.random() < 0.3 else []
    while len(roles) < len(langs):
        roles.insert(len(roles) - ("slang" in roles), "closer" if "closer" not in roles else "exp")
    T = TOPICS[topic]
    parts: list[str] = []
    subject = None  # (text, lang), put before the evaluation
    for role, lang in zip(roles, assign(rng, langs, len(roles))):
        if role == "opener":
            parts.append(rng.choice(OPENERS[lang]))
        elif role == "context":
            parts += [fill(rng, rng.choice(CONTEXT[lang]), lang, langs, topic), separator(rng, "a")]
        elif role == "subject":
            subject = (fill(rng, rng.choice(SUBJECTS[lang]), lang, langs, topic), lang)
        elif role == "eval":
            pool = T[key][lang] if rng.random() < 0.6 else GENERIC[key][lang]
            text = stylise(rng, rng.choice(pool))
            if subject:
                if subject[1] == lang == "en" and rng.random() < 0.75:
                    text = rng.choice(COPULAS) + " " + text
                parts.append(subject[0])
            parts += [text, separator(rng, text)]
        elif role == "exp":
            text = fill(rng, rng.choice(T["x" + key][lang]), lang, langs, topic)
            parts += [text, separator(rng, text)]
        elif role == "closer":
            text = stylise(rng, rng.choice(CLOSERS[key][lang]))
            parts += [text, separator(rng, text)]
        else:  # slang, at the end or up front
            text = stylise(rng, rng.choice(SLANG[key][lang]))
            if rng.random() < 0.6:
                parts.append(text)
            else:
                parts.insert(0, text)
    return finish(rng, [p for p in parts if p], sentiment, langs)


def neutral(rng: random.Random, topic: str, langs: tuple) -> list[str]:
    """Neutral: questions, plans, facts, announcements, optionally with a link or a mention."""
    roles = ["topic"] + (["generic"] if rng.random() < 0.35 else [])
    rng.shuffle(roles)
    roles = (["opener"] if rng.random() < 0.12 else []) + roles + (["slang"] if rng.random() < 0.25 else [])
    while len(roles) < len(langs):
        roles.insert(len(roles) - ("slang" in roles), "generic" if "generic" not in roles else "topic")
    parts: list[str] = []
    for role, lang in zip(roles, assign(rng, langs, len(roles))):
        if role == "opener":
            parts.append(rng.choice(OPENERS[lang]))
        elif role == "slang":
            parts.append(stylise(rng, rng.choice(SLANG["neu"][lang]), caps=0.02, stretch=0))
        else:
            pool = TOPICS[topic]["neu"][lang] if role == "topic" else GENERIC_NEUTRAL[lang]
            text = fill(rng, rng.choice(pool), lang, langs, topic)
            parts += [text, "" if text[-1] in "?？" else separator(rng, text)]
    if rng.random() < 0.15:
        parts.append(rng.choice(URLS))
    return finish(rng, [p for p in parts if p], "neutral", langs)


def finish(rng: random.Random, parts: list[str], sentiment: str, langs: tuple) -> list[str]:
    """Particle, end punctuation, emoji, hashtags, @mention."""
    key = KEY[sentiment]
    while parts and parts[-1] in {",", "，", ".", "。", "...", ""}:
        parts.pop()
    last = parts[-1]
    if rng.random() < 0.25 and last[-1].isalpha():
        if "ms" in langs and _is_latin(last[-1]):
            parts.append(rng.choice(PARTICLES["ms"]))
        elif "zh" in langs and _is_cjk(last[-1]):
            parts.append(rng.choice(PARTICLES["zh"]))
    if parts[-1][-1] in "?？":
        if rng.random() < 0.3:
            parts.append(rng.choice(["?", "??", "???"]))
    elif not _special(parts[-1]) and rng.random() < 0.6:
        parts.append(rng.choice(END[key]))
    if rng.random() < (0.3 if key == "neu" else 0.55):
        emoji = rng.choice(EMOJI[key])
        parts.append(emoji * rng.choice([1, 1, 1, 2, 3]) if rng.random() < 0.7 else emoji + rng.choice(EMOJI[key]))
    parts += rng.sample(HASHTAGS[key], rng.choice([0, 0, 0, 0, 0, 1, 1, 2]))
    if rng.random() < (0.15 if key == "neu" else 0.06):
        mention = rng.choice(MENTIONS)
        parts.insert(0 if rng.random() < 0.6 else len(parts), mention)
    return parts


def join(rng: random.Random, parts: list[str]) -> str:
    """Join parts as people type: no space before punctuation, often none between Chinese and the rest."""
    text = parts[0]
    for previous, part in zip(parts, parts[1:]):
        left, right = text[-1], part[0]
        if _special(previous) or _special(part):
            gap = " "
        elif right in ",.!?~…:;，。！？～" or left in "，。！？～":
            gap = ""
        elif _is_cjk(left) or _is_cjk(right):
            gap = "" if rng.random() < 0.7 else " "
        elif not (_is_latin(right) or _is_latin(left)):
            gap = rng.choice(["", " "])  # between emoji and punctuation
        elif not _is_latin(right):
            gap = rng.choice(["", " "])  # an emoji after a word
        else:
            gap = " "
        text += gap + part
    text = re.sub(" +", " ", text).strip()
    if text[0].islower() and rng.random() < 0.3:
        text = text[0].upper() + text[1:]
    return text


def sentence(rng: random.Random, sentiment: str) -> str:
    """One sentence of at least MIN_WORDS words."""
    while True:
        langs = rng.choices([m for m, _ in LANG_MIXES], weights=[w for _, w in LANG_MIXES])[0]
        topic = rng.choice(sorted(TOPICS))
        if sentiment == "neutral":
            text = join(rng, neutral(rng, topic, langs))
        else:
            text = join(rng, opinion(rng, topic, sentiment, langs))
        if len(words(text)) >= MIN_WORDS:
            return text


def generate(seed: int = 0) -> list[dict]:
    """PER_SENTIMENT unique texts per sentiment (a duplicate text is dropped, the first kept), shuffled."""
    rng = random.Random(seed)
    seen: set[str] = set()
    records = []
    for _ in range(PER_SENTIMENT):
        for sentiment in SENTIMENTS:
            text = sentence(rng, sentiment)
            while text in seen:
                text = sentence(rng, sentiment)
            seen.add(text)
            records.append({"text": text, "sentiment": sentiment, "words": words(text)})
    rng.shuffle(records)
    return records


def bucket(text: str) -> str:
    """80 / 10 / 10 by the text's sha256, so a text always lands in the same split."""
    b = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if b < 8 else "validation" if b == 8 else "test"


def split(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for record in records:
        out[bucket(record["text"])].append(record)
    return out


# ---------------------------------------------------------------------------------------------
# Output.
def stats(splits: dict[str, list[dict]]) -> dict:
    records = [r for name in SPLITS for r in splits[name]]
    word_langs = Counter(lang for r in records for _, _, lang in r["words"])
    mixes = Counter("+".join(sorted({lang for *_, lang in r["words"]} - {"other"})) for r in records)
    mixed = sum(n for mix, n in mixes.items() if "+" in mix)
    lengths = sorted(len(r["words"]) for r in records)
    return {
        "sentences": {name: len(splits[name]) for name in SPLITS} | {"total": len(records)},
        "sentiment": {name: Counter(r["sentiment"] for r in splits[name]) for name in SPLITS},
        "words": {lang: word_langs[lang] for lang in LANGS},
        "mixed": mixed / len(records),
        "mixes": dict(mixes.most_common()),
        "length": (lengths[0], lengths[len(lengths) // 2], lengths[-1]),
    }


def readme(seed: int, s: dict) -> str:
    rows = "\n".join(f"| {name} | {s['sentences'][name]} | " + " | ".join(str(s["sentiment"][name][x]) for x in SENTIMENTS)
                     + " |" for name in SPLITS)
    total = {x: sum(s["sentiment"][n][x] for n in SPLITS) for x in SENTIMENTS}
    langs = " | ".join(f"{s['words'][lang]}" for lang in LANGS)
    return f"""# textclf: code-switched social-media sentences

Synthetic chat / social-media sentences in Mandarin Chinese (simplified), English and Malay as
Malaysian and Singaporean users write them, often switching language inside a sentence, with a
sentence sentiment and a language for every word. For training a tokenizer and a small
sentiment + token-level language-ID model. Generated, not collected: no personal data.

Made by (deterministic; the tests check these files equal the generator's output):

    .venv/bin/python examples/train/corpus.py --out examples/train/data/textclf --seed {seed}

`examples/train/corpus.py` combines the phrase lexicons of `examples/train/corpus_lexicon.py`
(14 topics: food, delivery, shopping, apps, phones, travel, work, school, weather, movies, games,
customer service, friends, family) by templates. Exact duplicate texts are dropped. The split is
by the sha256 of the text (80 / 10 / 10), so a text always lands in the same split.

## Format

One JSON object per line:
`{{"text": ..., "sentiment": "negative" | "neutral" | "positive", "words": [[start, end, lang], ...]}}`.
Offsets are Python string (code point) indices into `text`, `end` exclusive.

## Labels

- `sentiment` comes from the template: `positive` / `negative` (praise, complaints, anger,
  disappointment; negations like "not bad", "tak sedap", "不好吃" decide the label as much as
  keywords do), `neutral` (questions, plans, facts, announcements).
- `words` covers every non-space character exactly once. A word is a maximal run of non-space
  characters of one language:
  - `zh`: a run of Chinese characters is one word (这个新功能), split from adjacent Latin letters
    or digits at the script change (用app -> 用 | app).
  - `en` / `ms`: a Latin-script word (apostrophes and hyphens inside it included: don't,
    kawan-kawan). `ms` if the word is in the Malay lexicon and not in the English one, else `en`:
    words both languages use (ok, best, lol, app, online, order, refund, ...) are `en` everywhere,
    even inside Malay phrases, and so are brand and place names not in the Malay lexicon. Stretched
    words keep their label (sooo en, gilaaa ms). So a word form always has the same label.
  - `other`: punctuation (split off the word it is attached to: good! -> good | !), emoji,
    numbers, prices (RM15, $20, 50%), times (3pm), model names with digits (5G), URLs, and a whole
    `#hashtag` or `@mention`. Adjacent `other` characters form one word (!!!😂).

## Counts (seed {seed})

| split | sentences | negative | neutral | positive |
|---|---|---|---|---|
{rows}
| total | {s['sentences']['total']} | {' | '.join(str(total[x]) for x in SENTIMENTS)} |

| words | zh | en | ms | other |
|---|---|---|---|---|
| all splits | {langs} |

(`zh` counts runs of Chinese characters, see above.)

Sentences that mix two or more of zh / en / ms: {100 * s['mixed']:.1f}%
({', '.join(f'{mix} {n}' for mix, n in s['mixes'].items())}).
Words per sentence: min {s['length'][0]}, median {s['length'][1]}, max {s['length'][2]}.
"""


def write(out_dir, seed: int = 0) -> dict:
    """Write train / validation / test .jsonl and README.md into out_dir; return the counts."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    splits = split(generate(seed))
    for name in SPLITS:
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in splits[name]]
        (out / f"{name}.jsonl").write_text("".join(lines), encoding="utf-8")
    s = stats(splits)
    (out / "README.md").write_text(readme(seed, s), encoding="utf-8")
    return s


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory for train/validation/test.jsonl")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    s = write(args.out, args.seed)
    print(json.dumps(s, ensure_ascii=False))


if __name__ == "__main__":
    main()
