import numpy as np
import tensorflow as tf

import kerasnets
from kerasnets import data
from tests.data import data_root_or_skip, tfds_dir


def test_windows_are_shifted_by_one():
    texts = tf.data.Dataset.from_tensor_slices(["abcdefghij", "klmnopqrstuvw"])
    tokenizer = data.CharacterTokenizer().adapt(texts)
    dataset = data.language_modeling_dataset(texts, tokenizer, sequence_length=4, batch_size=None, shuffle=False)
    pairs = [(tokenizer.detokenize(x).numpy(), tokenizer.detokenize(y).numpy()) for x, y in dataset]
    # Windows of 5 every 4 tokens, never across documents; short tails dropped.
    assert pairs == [(b"abcd", b"bcde"), (b"efgh", b"fghi"), (b"klmn", b"lmno"), (b"opqr", b"pqrs"), (b"stuv", b"tuvw")]
    inputs, targets = next(iter(data.next_token_windows(tf.range(1, 10), 3, stride=2).skip(1)))
    assert inputs.numpy().tolist() == [3, 4, 5] and targets.numpy().tolist() == [4, 5, 6]


def test_tiny_shakespeare_batches():
    data_root_or_skip("tiny_shakespeare/input.txt")
    dataset, tokenizer = data.load_language_modeling(
        "tiny_shakespeare", "validation", sequence_length=64, batch_size=8, seed=3, data_dir=tfds_dir()
    )
    assert tokenizer.vocabulary_size() == 67  # 65 characters + padding + OOV
    assert dataset.element_spec == (tf.TensorSpec((8, 64), tf.int32), tf.TensorSpec((8, 64), tf.int32))
    inputs, targets = next(iter(dataset))
    np.testing.assert_array_equal(inputs.numpy()[:, 1:], targets.numpy()[:, :-1])
    assert inputs.numpy().min() >= 2  # no padding, no OOV in the stream
    corpus = next(iter(data.load_text("tiny_shakespeare", "validation", data_dir=tfds_dir()))).numpy()
    for row in tokenizer.detokenize(targets).numpy():
        assert row in corpus
    again, _ = data.load_language_modeling(
        "tiny_shakespeare", "validation", 64, 8, tokenizer=tokenizer, seed=3, data_dir=tfds_dir()
    )
    np.testing.assert_array_equal(next(iter(again))[0].numpy(), inputs.numpy())  # same seed, same batches

    model = kerasnets.models.gpt(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=64,
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(dataset.take(2), verbose=0).history["loss"][-1])


def test_keras_evaluate_gives_the_mean_over_every_batch():
    """The pipelines know their length, so Keras' evaluate averages over their batches only (with an
    unknown cardinality it averages in one empty step: N / (N + 1) of the true loss)."""
    import keras

    data_root_or_skip("tiny_shakespeare/input.txt")
    dataset, tokenizer = data.load_language_modeling(
        "tiny_shakespeare", "validation", sequence_length=64, batch_size=32, data_dir=tfds_dir()
    )
    batches = sum(1 for _ in dataset)
    assert int(dataset.cardinality()) == batches == 27
    model = kerasnets.models.gpt(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=64,
    )
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
    losses, correct, count = [], 0, 0
    for inputs, targets in dataset:
        probabilities = model(inputs)
        losses.append(keras.losses.sparse_categorical_crossentropy(targets, probabilities).numpy())
        correct += int(np.sum(np.argmax(probabilities, -1) == targets.numpy()))
        count += targets.numpy().size
    scores = model.evaluate(dataset, verbose=0, return_dict=True)
    np.testing.assert_allclose(scores["loss"], np.mean(losses), rtol=1e-5)
    np.testing.assert_allclose(scores["accuracy"], correct / count, rtol=1e-5)
    unknown = dataset.filter(lambda inputs, targets: True)  # the same batches, length unknown
    assert int(unknown.cardinality()) == -2  # the control: Keras' average is off without the length
    np.testing.assert_allclose(model.evaluate(unknown, verbose=0)[0], np.mean(losses) * 27 / 28, rtol=1e-4)
