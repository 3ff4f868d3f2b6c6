"""Stock Hugging Face models from a local `save_pretrained` directory, with a derived ModelSpec.

`[models.x] huggingface = "path" task = "..."` loads the directory with `local_files_only=True`
(never the hub) and derives the spec from the model's own description, the way Optimum's task
configs do: the modality from `main_input_name`, the vocabulary, label count and position limit
from the config, the frame axis of audio models from their conv feature encoder (`conv_kernel`,
`conv_stride`), the mask, and a parity metric per task. `mobilesdk spec` prints the result as TOML;
a `[models.x.spec]` table in bundle.toml replaces any part of it.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import torch

from mobilesdk.errors import ConfigError, summary
from mobilesdk.spec import DerivedDim, Dim, MaskSpec, ModelSpec, OutputSpec, TensorSpec

# task -> (transformers Auto class, output tensor name in the model's output, metric)
TASKS = {
    "sequence-classification": ("AutoModelForSequenceClassification", "logits", "top1"),
    "token-classification": ("AutoModelForTokenClassification", "logits", "frame_argmax"),
    "ctc": ("AutoModelForCTC", "logits", "frame_argmax"),
    "feature-extraction": ("AutoModel", "last_hidden_state", "sqnr"),
}
BATCH = Dim("batch", 1, 8, default=4)
MAX_TOKENS = 128  # default cap on the token axis: golden cases and TFLite buckets grow with it
AUDIO_SAMPLES = (1600, 32000, 16000)  # min, max, main length at 16 kHz (0.1 s to 2 s)
SPECIAL_TOKEN_KEYS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id",
                      "unk_token_id", "mask_token_id")


class HuggingFaceOutputs(torch.nn.Module):
    """Calls a transformers model with the spec's inputs by keyword; returns the task's output."""

    def __init__(self, model: torch.nn.Module, input_names: list[str], output: str):
        super().__init__()
        self.model, self.input_names, self.output = model, input_names, output

    def forward(self, *inputs):
        return (getattr(self.model(**dict(zip(self.input_names, inputs))), self.output),)


def load(path: str | Path, task: str, name: str, max_length: int = 0) -> tuple[torch.nn.Module, ModelSpec]:
    """The model at `path` for `task`, wrapped to take the spec's inputs, and its derived spec."""
    if task not in TASKS:
        raise ConfigError(f"[models.{name}] task `{task}` is unknown. Fix: use one of {', '.join(TASKS)}")
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ConfigError(f"[models.{name}] huggingface = `{path}` has no config.json. "
                          "Fix: point it at a directory written by save_pretrained()")
    import transformers

    transformers.utils.logging.disable_progress_bar()  # "Loading weights" bars would bury the progress lines
    auto, output, metric = TASKS[task]
    try:
        # eager attention: an explicit masked softmax, which every converter takes
        model = getattr(transformers, auto).from_pretrained(str(path), local_files_only=True, attn_implementation="eager")
    except Exception as e:
        raise ConfigError(f"[models.{name}] cannot load `{path}` for {task}: {summary(e)}. "
                          "Fix: save the model with save_pretrained() for this task's head") from None
    model = model.eval()
    spec = derive_spec(model, task, name, max_length)
    module = HuggingFaceOutputs(model, [t.name for t in spec.inputs], output)
    return module.eval(), spec


def derive_spec(model, task: str, name: str, max_length: int = 0) -> ModelSpec:
    config = model.config
    _, output, metric = TASKS[task]
    audio = model.main_input_name == "input_values"
    takes_mask = "attention_mask" in inspect.signature(model.forward).parameters
    if audio:
        kernels, strides = getattr(config, "conv_kernel", None), getattr(config, "conv_stride", None)
        if not kernels or not strides:
            raise ConfigError(f"[models.{name}] audio model `{config.model_type}` has no conv_kernel/conv_stride "
                              "in its config, so its frame axis cannot be derived. Fix: use a factory")
        lo, hi, main = AUDIO_SAMPLES
        hi = max_length or hi
        axis = Dim("samples", lo, hi, default=min(main, hi))
        frames = DerivedDim("frames", "samples", tuple(zip(map(int, kernels), map(int, strides))))
        inputs = [TensorSpec("input_values", "float32", ("batch", "samples"), kind="audio")]
        position, derived = "frames", (frames,)
    else:
        specials = [v for k in SPECIAL_TOKEN_KEYS if isinstance(v := getattr(config, k, None), int)]
        low = max(specials) + 1 if specials and max(specials) + 1 < config.vocab_size // 2 else 0
        hi = _token_limit(model, max_length or MAX_TOKENS, low)
        axis = Dim("tokens", 2, hi, default=min(32, hi))
        inputs = [TensorSpec("input_ids", "int32", ("batch", "tokens"), kind="tokens", low=low, high=config.vocab_size)]
        position, derived = "tokens", ()
    masks = ()
    if takes_mask:
        inputs.append(TensorSpec("attention_mask", "int32", ("batch", axis.name), kind="mask"))
        masks = (MaskSpec("attention_mask", axis.name),)
    labels = tuple(str(config.id2label[i]) for i in range(config.num_labels))  # the config's class names
    if task == "sequence-classification":
        out = OutputSpec(output, "float32", ("batch", config.num_labels), metric=metric, labels=labels)
    elif task == "feature-extraction":
        out = OutputSpec(output, "float32", ("batch", position, config.hidden_size), metric=metric, position_axis=1)
    else:
        classes = config.vocab_size if task == "ctc" else config.num_labels
        out = OutputSpec(output, "float32", ("batch", position, classes), metric=metric, position_axis=1,
                         labels=() if task == "ctc" else labels,
                         ctc_blank=config.pad_token_id if task == "ctc" else None)  # HF CTC's blank is the pad token
    return ModelSpec(name=name, inputs=tuple(inputs), outputs=(out,), dims=(BATCH, axis), derived_dims=derived,
                     masks=masks, description=f"Hugging Face {type(model).__name__} ({config.model_type}), {task}")


def _token_limit(model, want: int, token: int) -> int:
    """The longest row of `token`s up to `want` the model runs: its position table's size, less any
    offset the model adds to positions (found by running it, not by model name)."""
    limit = min(want, int(getattr(model.config, "max_position_embeddings", 0) or want))
    for n in range(limit, max(limit - 8, 1), -1):
        ids = torch.full((1, n), token, dtype=torch.long)
        try:
            with torch.no_grad():
                model(input_ids=ids)
            return n
        except (IndexError, RuntimeError):
            continue
    return max(2, limit - 8)
