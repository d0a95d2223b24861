"""examples/attention_three_kinds.py in smoke mode: the formula, the three kinds, causality, training."""

import math

from tests.examples.conftest import assert_png


def test_attention_three_kinds(run_example):
    results, printed, output_dir = run_example("attention_three_kinds")

    # 1-2. The from-scratch attention matches NumPy and keras.layers.MultiHeadAttention, for every kind.
    checks = ("attention_vs_numpy", "causal_attention_vs_numpy", "self_vs_keras", "cross_vs_keras", "causal_vs_keras")
    for key in checks:
        assert results[key] < 1e-5, (key, results[key])

    # 3. Causal: the past ignores an edited future, which does change the future itself;
    #    self (encoder) and cross attention see everything, so their outputs move.
    assert results["gpt_past_change"] < 1e-6 and results["decoder_past_change"] < 1e-6
    assert results["gpt_future_change"] > 1e-4
    assert results["encoder_past_change"] > 1e-3
    assert results["cross_first_change"] > 1e-3

    # 4. Training on Tiny Shakespeare moves the validation loss down from the untrained model's.
    assert "Total params" in printed
    assert math.isfinite(results["validation_loss"]) and math.isfinite(results["unigram_loss"])
    assert results["validation_loss"] < results["initial_loss"] - 0.5
    assert 2.5 < results["unigram_loss"] < math.log(67)
    assert "unigram baseline" in printed

    # 5. The trained decoder's pattern is causal, and the picture is a readable PNG.
    assert results["trained_decoder_above_diagonal"] == 0.0
    (picture,) = results["pictures"]
    assert picture.startswith(str(output_dir))
    width, height = assert_png(picture, min_size=(1200, 400))
