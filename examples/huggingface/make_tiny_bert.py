"""Save a tiny, randomly initialised BERT sentiment classifier next to this file, as a user's
`save_pretrained()` directory would look (nothing is downloaded).

    python examples/huggingface/make_tiny_bert.py [OUT_DIR]   # default: examples/huggingface/tiny-bert
    mobilesdk spec examples/huggingface/bundle.toml     # the spec mobilesdk derives for it
    mobilesdk build examples/huggingface/bundle.toml --out dist/hf-bundle
"""
import sys
from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification

OUT = Path(__file__).with_name("tiny-bert")

if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    torch.manual_seed(0)
    config = BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=128, num_labels=3)
    BertForSequenceClassification(config).save_pretrained(out)
    print(f"wrote {out}")
