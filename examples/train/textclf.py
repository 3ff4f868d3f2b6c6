"""Train the `textclf` small model: a WordPiece tokenizer and sentiment + token-level language ID.

    .venv/bin/python examples/train/textclf.py            # about 10 minutes on 2 CPU cores

Reads the corpus (examples/train/data/textclf/*.jsonl, made by corpus.py) and the committed tokenizer
(`--new-tokenizer` trains one on the train split with `tokenizers`: its WordPiece training is not
deterministic, huggingface/tokenizers#1794, so the committed file pins the ids the checkpoint was
trained with), then trains the model from the `small` preset's deterministic init. Each
token's language is the language of the corpus word its first character falls in; [CLS]/[SEP] carry
no LID target. A third of the batches are several sentences run together (LID target only), so
positions up to the preset's 192 tokens are trained as the golden rows use them. Writes
examples/models/textclf/{model.safetensors, tokenizer.json, vocab.txt, metrics.json}; the metrics are
on the test split with the checkpoint that did best on validation. Reproducible from --seed.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mobilesdk.models import build_model  # noqa: E402
from mobilesdk.models.textclf import PRESETS, TextClfConfig  # noqa: E402
from mobilesdk.text.tokenizer import TextTokenizer, train_wordpiece, write_vocab  # noqa: E402

IGNORE = -100


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def token_targets(tok: TextTokenizer, record: dict, languages: list[str], max_tokens: int):
    """(ids, per-token language index or IGNORE for specials)."""
    enc = tok.encode(record["text"], max_tokens)
    lang_at = {}
    for start, end, lang in record["words"]:
        for c in range(start, end):
            lang_at[c] = languages.index(lang)
    langs = [IGNORE if e <= s else lang_at.get(s, languages.index("other")) for s, e in enc.offsets]
    return enc.ids, langs


def encode_split(tok, records, languages, sentiments, max_tokens):
    return [(*token_targets(tok, r, languages, max_tokens), sentiments.index(r["sentiment"])) for r in records]


def joined(samples: list[tuple], max_tokens: int) -> tuple:
    """Several encoded sentences as one row: [CLS] s1 s2 ... [SEP], cut to max_tokens; no sentiment."""
    ids, langs = [samples[0][0][0]], [IGNORE]
    for s_ids, s_langs, _ in samples:
        ids += s_ids[1:-1]
        langs += s_langs[1:-1]
    ids, langs = ids[: max_tokens - 1] + [samples[0][0][-1]], langs[: max_tokens - 1] + [IGNORE]
    return ids, langs, IGNORE


def batch(samples: list[tuple]):
    n = max(len(s[0]) for s in samples)
    ids = torch.zeros(len(samples), n, dtype=torch.int32)
    langs = torch.full((len(samples), n), IGNORE)
    for i, (s_ids, s_langs, _) in enumerate(samples):
        ids[i, : len(s_ids)] = torch.tensor(s_ids)
        langs[i, : len(s_langs)] = torch.tensor(s_langs)
    return ids, (ids > 0).to(torch.int32), langs, torch.tensor([s[2] for s in samples])


@torch.no_grad()
def evaluate(model, samples, size=64) -> dict:
    model.eval()
    lid_ok = lid_n = sent_ok = 0
    for i in range(0, len(samples), size):
        ids, mask, langs, sent = batch(samples[i : i + size])
        logits, lid = model(ids, mask)
        keep = langs != IGNORE
        lid_ok += int((lid.argmax(-1)[keep] == langs[keep]).sum())
        lid_n += int(keep.sum())
        sent_ok += int((logits.argmax(-1) == sent).sum())
    return {"token_lid_accuracy": lid_ok / lid_n, "sentiment_accuracy": sent_ok / len(samples),
            "sentences": len(samples), "tokens": lid_n}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=ROOT / "examples/train/data/textclf")
    p.add_argument("--out", type=Path, default=ROOT / "examples/models/textclf")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--minutes", type=float, default=14.0, help="stop early after this long (the 15-minute budget)")
    p.add_argument("--new-tokenizer", action="store_true", help="train a new tokenizer.json instead of reusing --out's")
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = random.Random(args.seed)
    start = time.perf_counter()

    cfg = PRESETS["small"]
    small = TextClfConfig(**cfg)
    languages, sentiments, max_tokens = list(small.languages), list(small.sentiments), small.max_tokens
    splits = {s: read(args.data / f"{s}.jsonl") for s in ("train", "validation", "test")}
    args.out.mkdir(parents=True, exist_ok=True)
    if args.new_tokenizer or not (args.out / "tokenizer.json").is_file():
        train_wordpiece([r["text"] for r in splits["train"]], vocab_size=small.vocab).save(str(args.out / "tokenizer.json"))
    tok = TextTokenizer(args.out / "tokenizer.json")
    write_vocab(tok.tok, args.out / "vocab.txt")
    print(f"tokenizer: {tok.vocab_size} tokens ({time.perf_counter() - start:.0f} s)", flush=True)
    data = {s: encode_split(tok, rs, languages, sentiments, max_tokens) for s, rs in splits.items()}

    model, _ = build_model("textclf", "small", seed=args.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    steps_per_epoch = len(data["train"]) // 32
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=args.epochs * steps_per_epoch,
                                                pct_start=0.1)
    best, best_state = -1.0, None
    for epoch in range(args.epochs):
        model.train()
        order = list(range(len(data["train"])))
        rng.shuffle(order)
        for step in range(steps_per_epoch):
            picked = [data["train"][i] for i in order[step * 32 : (step + 1) * 32]]
            if step % 3 == 2:  # long rows: 8 rows of several sentences each
                picked = [joined(picked[i::8], max_tokens) for i in range(8)]
            ids, mask, langs, sent = batch(picked)
            logits, lid = model(ids, mask)
            loss = F.cross_entropy(lid.reshape(-1, len(languages)), langs.reshape(-1), ignore_index=IGNORE)
            if (sent != IGNORE).any():
                loss = loss + F.cross_entropy(logits, sent, ignore_index=IGNORE)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
        val = evaluate(model, data["validation"])
        score = val["token_lid_accuracy"] + val["sentiment_accuracy"]
        if score > best:
            best, best_state = score, {k: v.detach().clone() for k, v in model.state_dict().items()}
        minutes = (time.perf_counter() - start) / 60
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, validation LID {val['token_lid_accuracy']:.4f}, "
              f"sentiment {val['sentiment_accuracy']:.4f} ({minutes:.1f} min)", flush=True)
        if minutes > args.minutes:
            print("time budget reached", flush=True)
            break

    from safetensors.torch import save_file

    model.load_state_dict(best_state)
    save_file({k: v.contiguous() for k, v in best_state.items()}, str(args.out / "model.safetensors"))
    test = evaluate(model, data["test"])
    test |= {"seed": args.seed, "train_minutes": round((time.perf_counter() - start) / 60, 1),
             "vocab": tok.vocab_size, "train_sentences": len(data["train"])}
    (args.out / "metrics.json").write_text(json.dumps(test, indent=2) + "\n")
    print(f"test: token LID {test['token_lid_accuracy']:.4f}, sentiment {test['sentiment_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
