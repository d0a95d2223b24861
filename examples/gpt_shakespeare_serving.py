"""A character-level GPT on Tiny Shakespeare, exported with its decoding loop and served.

    python examples/gpt_shakespeare_serving.py                 # ~2 min on 2 CPU cores
    python examples/gpt_shakespeare_serving.py --steps 3000 --base-dir saved_models

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

import keras

from kerasnets.data import load_language_modeling
from kerasnets.export import export_model
from kerasnets.models import gpt

CONTEXT = 64


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--base-dir", default="saved_models", help="export root (default saved_models)")
    args = parser.parse_args()

    train, tokenizer = load_language_modeling(
        "tiny_shakespeare", "train", sequence_length=CONTEXT, batch_size=args.batch_size, seed=0, repeat=True
    )
    validation, _ = load_language_modeling(
        "tiny_shakespeare", "validation", sequence_length=CONTEXT, batch_size=args.batch_size, tokenizer=tokenizer
    )
    model = gpt(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=4, num_heads=4, hidden_dim=128,
        intermediate_dim=512, max_sequence_length=CONTEXT, dropout=0.0,
    )  # fmt: skip
    model.summary()
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=True,
    )
    epochs = 5
    model.fit(train, epochs=epochs, steps_per_epoch=max(1, args.steps // epochs), validation_data=validation)

    prompt = tokenizer.tokenize(["ROMEO:"])
    continuation = model.generate(prompt, 48)
    print("\nGreedy, in Python:", tokenizer.detokenize(continuation).numpy()[0].decode())

    exported = export_model(model, "gpt", base_dir=args.base_dir, generation={"tokenizer": tokenizer})
    print(f"Exported version {exported.version} to {exported.path} (signatures: {', '.join(exported.signatures)})")


if __name__ == "__main__":
    main()
