"""A character-level GPT on Tiny Shakespeare, exported with its decoding loop and served.

    python examples/gpt_shakespeare_serving.py                 # ~2 min on 2 CPU cores
    python examples/gpt_shakespeare_serving.py --steps 3000 --base-dir saved_models
    python examples/gpt_shakespeare_serving.py --smoke --output-dir /tmp/gpt   # a tiny model, 5 steps

`--smoke` (for the tests) trains a one-layer GPT of width 32 for a handful of steps and
exports it the same way; `--output-dir DIR` puts the export under `DIR/saved_models`.

1. Tiny Shakespeare through tensorflow-datasets (offline from ../shared/data
   where present), cut into windows of 64 characters; targets are the inputs
   shifted by one.
2. A small GPT (4 layers, 4 heads, width 128, context 64 — nanoGPT's CPU
   configuration) trained with `fit`, AdamW 1e-3.
3. `export_model(..., generation={"tokenizer": tokenizer})` writes
   `saved_models/gpt/<version>/` with four signatures: `serving_default`
   (token ids → next-token probabilities), `generate` (greedy), `sample`
   (top-k / temperature / seed) and `beam_search`. The character tokenizer is inside the graph,
   so clients send a prompt string and get text back.
4. Serve it and ask it to continue a prompt:

    kerasnets serve --model_name=gpt --model_base_path=$PWD/saved_models/gpt
    curl -X POST localhost:8501/v1/models/gpt:predict -d '{"signature_name": "generate",
        "instances": [{"prompt": "ROMEO:", "max_new_tokens": 80}]}'
"""

import argparse
import os

import keras

from kerasnets.data import load_language_modeling
from kerasnets.export import export_model
from kerasnets.models import gpt

CONTEXT = 64
# The default run and the smoke run (tests): model size, training and validation.
SIZES = {
    False: dict(steps=1500, batch_size=32, epochs=5, validation_batches=None, jit_compile=True,
                model=dict(num_layers=4, num_heads=4, hidden_dim=128, intermediate_dim=512)),
    True: dict(steps=5, batch_size=8, epochs=1, validation_batches=2, jit_compile=False,
               model=dict(num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64)),
}  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 1500; smoke 5)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 32; smoke 8")
    parser.add_argument(
        "--base-dir", default=None, help="export root (default saved_models, or DIR/saved_models with --output-dir)"
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny model and a handful of steps (for the tests)")
    parser.add_argument("--output-dir", default=None, help="export under DIR/saved_models (unless --base-dir)")
    args = parser.parse_args(argv)
    size = SIZES[args.smoke]
    steps = args.steps or size["steps"]
    batch_size = args.batch_size or size["batch_size"]
    base_dir = args.base_dir or (os.path.join(args.output_dir, "saved_models") if args.output_dir else "saved_models")
    if args.smoke:
        keras.utils.set_random_seed(0)

    train, tokenizer = load_language_modeling(
        "tiny_shakespeare", "train", sequence_length=CONTEXT, batch_size=batch_size, seed=0, repeat=True,
        **({"shuffle_buffer": 256} if args.smoke else {}),
    )  # fmt: skip
    validation, _ = load_language_modeling(
        "tiny_shakespeare", "validation", sequence_length=CONTEXT, batch_size=batch_size, tokenizer=tokenizer
    )
    if size["validation_batches"]:
        validation = validation.take(size["validation_batches"])
    model = gpt(
        vocabulary_size=tokenizer.vocabulary_size(), max_sequence_length=CONTEXT, dropout=0.0, **size["model"]
    )
    model.summary()
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=size["jit_compile"],
    )
    epochs = size["epochs"]
    history = model.fit(
        train, epochs=epochs, steps_per_epoch=max(1, steps // epochs), validation_data=validation,
        validation_steps=size["validation_batches"],
    )  # fmt: skip

    prompt = tokenizer.tokenize(["ROMEO:"])
    continuation = model.generate(prompt, 48)
    greedy = tokenizer.detokenize(continuation).numpy()[0].decode()
    print("\nGreedy, in Python:", greedy)

    exported = export_model(model, "gpt", base_dir=base_dir, generation={"tokenizer": tokenizer})
    print(f"Exported version {exported.version} to {exported.path} (signatures: {', '.join(exported.signatures)})")
    return {
        "steps": epochs * max(1, steps // epochs),
        "loss": history.history["loss"],
        "val_loss": history.history["val_loss"],
        "greedy_text": greedy,
        "base_dir": base_dir,
        "export_path": exported.path,
        "version": exported.version,
        "signatures": list(exported.signatures),
        "pictures": [],
    }


if __name__ == "__main__":
    main()
