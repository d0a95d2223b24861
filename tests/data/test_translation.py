import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

import kerasnets
from kerasnets import data
from tests.data import data_root_or_skip, tfds_dir


def test_teacher_forcing_shift_and_truncation():
    decoder, targets = data.teacher_forcing(tf.constant([7, 8, 9]), 6, start_id=2, end_id=3)
    assert decoder.numpy().tolist() == [2, 7, 8, 9, 0, 0]
    assert targets.numpy().tolist() == [7, 8, 9, 3, 0, 0]
    decoder, targets = data.teacher_forcing(tf.constant([7, 8, 9, 10, 11]), 4, start_id=2, end_id=3)
    assert decoder.numpy().tolist() == [2, 7, 8, 9] and targets.numpy().tolist() == [7, 8, 9, 3]  # [end] kept


def check_batch(inputs, targets, target_tokenizer, length):
    decoder = inputs["decoder_token_ids"].numpy()
    targets = targets.numpy()
    start, end = target_tokenizer.token_to_id("[start]"), target_tokenizer.token_to_id("[end]")
    assert inputs["encoder_token_ids"].shape[1] == length and decoder.shape[1] == targets.shape[1] == length
    assert (decoder[:, 0] == start).all()
    # Decoder inputs = [start] + targets shifted right, the [end] target has no decoder input after it.
    content = (targets[:, :-1] != 0) & (targets[:, :-1] != end)
    np.testing.assert_array_equal(decoder[:, 1:][content], targets[:, :-1][content])
    for row, decoder_row in zip(targets, decoder):
        n = (row != 0).sum()
        assert row[n - 1] == end and (row[:n] != 0).all() and (row == end).sum() == 1
        assert (decoder_row[:n] != 0).all() and (decoder_row[n:] == 0).all()


def test_spa_eng_batches_train_a_transformer():
    data_root_or_skip("spa_eng/spa-eng.zip")
    dataset, (source, target) = data.load_translation(
        "spa_eng", "validation[:64]", 16, sequence_length=12, tokenizer_split="train[:3000]", seed=0,
        sample_weight=True, data_dir=tfds_dir(),
    )
    inputs, targets, weights = next(iter(dataset))
    check_batch(inputs, targets, target, 12)
    np.testing.assert_array_equal(weights.numpy(), (targets.numpy() != 0).astype("float32"))
    assert target.special_tokens == ("[start]", "[end]") and source.special_tokens == ()
    assert b"[start]" in target.detokenize(inputs["decoder_token_ids"][:1]).numpy()[0]
    model = kerasnets.models.transformer(
        vocabulary_size=source.vocabulary_size(), target_vocabulary_size=target.vocabulary_size(),
        num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=12,
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(dataset.take(1), verbose=0).history["loss"][-1])


def test_ted_hrlr_with_mock_data(tmp_path):
    (tmp_path / "ted_hrlr_translate").mkdir()
    (tmp_path / "ted_hrlr_translate" / "qi18naacl-dataset.tar.gz").write_bytes(b"")
    with tfds.testing.mock_data(num_examples=32):
        dataset, (source, target) = data.load_translation(
            "ted_hrlr_translate/pt_to_en", "train", 8, sequence_length=10, shared_vocabulary=True,
            data_root=tmp_path, data_dir=tfds_dir(), seed=0,
        )
        inputs, targets = next(iter(dataset))
    assert source is target and source.vocabulary_size() > 4
    check_batch(inputs, targets, target, 10)
    model = kerasnets.models.seq2seq(
        source_vocabulary_size=source.vocabulary_size(), target_vocabulary_size=target.vocabulary_size(),
        embedding_dim=8, units=8,
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(dataset.take(1), verbose=0).history["loss"][-1])
