"""examples/rnn_recurrence.py in smoke mode: the recurrence by hand, masking, training, pictures."""

import numpy as np

from tests.examples.conftest import assert_png, load_example


def test_rnn_recurrence_smoke(run_example):
    results, printed, output_dir = run_example("rnn_recurrence")

    # 1-2: the NumPy loop, kerasnets' SimpleRNN and keras.layers.SimpleRNN agree.
    assert results["hand_vs_layer_max_difference"] < 1e-5
    assert results["layer_vs_keras_max_difference"] < 1e-5
    # 3: masked padding changes nothing, while the same padding read unmasked does.
    assert results["mask_max_difference"] < 1e-6
    assert results["no_mask_max_difference"] > 1e-2
    # 4: a trained model, summarised, better than before training.
    assert "Total params" in printed and "SimpleRNN" in printed
    assert np.isfinite(results["loss"]) and results["loss"] < results["start_loss"]
    assert 0.0 <= results["accuracy"] <= 1.0 and 0.3 < results["baseline_accuracy"] < 0.7
    # 5: the trained weights through the NumPy loop give the model's probability; padding is masked.
    assert results["trained_hand_vs_model_difference"] < 1e-5
    assert results["padding_difference"] < 1e-6
    assert results["sentence"] in printed
    names = sorted(p.split("/")[-1] for p in results["pictures"])
    assert names == ["rnn_recurrence_hidden_state.png", "rnn_recurrence_learning_curve.png"]
    for path in results["pictures"]:
        assert str(output_dir) in path
        assert_png(path, min_size=(400, 300))


def test_rnn_by_hand_is_the_formula():
    """The by-hand loop is the formula (one step checked directly) and skips masked steps."""
    rnn_by_hand = load_example("rnn_recurrence").rnn_by_hand
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 3, 2))
    kernel, recurrent_kernel, bias = rng.normal(size=(2, 4)), rng.normal(size=(4, 4)), rng.normal(size=4)
    states = rnn_by_hand(x, kernel, recurrent_kernel, bias)
    h1 = np.tanh(x[0, 0] @ kernel + bias)
    h2 = np.tanh(x[0, 1] @ kernel + h1 @ recurrent_kernel + bias)
    np.testing.assert_allclose(states[0, :2], [h1, h2], atol=1e-12)
    masked = rnn_by_hand(x, kernel, recurrent_kernel, bias, mask=np.array([[True, False, True]]))
    np.testing.assert_allclose(masked[0, 1], h1, atol=1e-12)
    np.testing.assert_allclose(masked[0, 2], np.tanh(x[0, 2] @ kernel + h1 @ recurrent_kernel + bias), atol=1e-12)
