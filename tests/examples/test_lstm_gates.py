"""examples/lstm_gates.py in smoke mode: one LSTM step by hand, Keras parity, training, the gate picture."""

import numpy as np

from tests.examples.conftest import assert_png, load_example


def test_lstm_gates_smoke(run_example):
    results, printed, output_dir = run_example("lstm_gates")

    # 1-2: one step by hand = LSTMCell; kerasnets' LSTM = keras.layers.LSTM = the NumPy loop.
    assert results["step_max_difference"] < 1e-5
    assert results["lstm_vs_keras_max_difference"] < 1e-5
    assert results["sequence_max_difference"] < 1e-5
    # 3: the LSTM is summarised and trained; the simple RNN of the same width trained too.
    assert "Total params" in printed and "LSTM" in printed
    assert np.isfinite(results["loss"]) and results["loss"] < results["start_loss"]
    assert np.isfinite(results["simple_rnn_loss"])
    assert 0.0 <= results["accuracy"] <= 1.0 and 0.0 <= results["simple_rnn_accuracy"] <= 1.0
    assert 0.3 < results["baseline_accuracy"] < 0.7
    assert results["lstm_parameters"] > results["simple_rnn_parameters"]
    # 4: the gates of the real sentence, from the trained weights, are the model's own computation.
    assert results["trained_hand_vs_model_difference"] < 1e-5
    assert results["padding_difference"] < 1e-6
    gates = results["gates"]
    steps = len(results["sentence"].split())
    for name in ("f", "i", "o"):
        assert gates[name].shape[0] == steps
        assert np.all((gates[name] > 0) & (gates[name] < 1))
    assert gates["c"].shape == gates["f"].shape and np.any(gates["c"] != 0)
    assert results["sentence"] in printed
    assert [p.split("/")[-1] for p in results["pictures"]] == ["lstm_gates.png"]
    assert str(output_dir) in results["pictures"][0]
    assert_png(results["pictures"][0], min_size=(400, 300))


def test_lstm_step_by_hand_is_the_formula():
    """lstm_step follows c_t = f⊙c + i⊙g, h_t = o⊙tanh(c_t) with Keras's gate order i, f, g, o."""
    example = load_example("lstm_gates")
    units = 2
    kernel = np.zeros((1, 4 * units))
    recurrent_kernel = np.zeros((units, 4 * units))
    # Pre-activations: i = σ(0) = 0.5, f = σ(large) ≈ 1, g = tanh(1), o = σ(-large) ≈ 0.
    bias = np.concatenate([np.zeros(units), np.full(units, 50.0), np.ones(units), np.full(units, -50.0)])
    c_prev = np.array([[0.3, -0.7]])
    h, c, gates = example.lstm_step(np.zeros((1, 1)), np.zeros((1, units)), c_prev, kernel, recurrent_kernel, bias)
    np.testing.assert_allclose(gates["i"], 0.5)
    np.testing.assert_allclose(c, c_prev + 0.5 * np.tanh(1.0), atol=1e-12)
    np.testing.assert_allclose(h, 0.0, atol=1e-12)
    trace = example.lstm_by_hand(np.zeros((1, 3, 1)), kernel, recurrent_kernel, bias)
    np.testing.assert_allclose(trace["c"][0, :, 0], 0.5 * np.tanh(1.0) * np.arange(1, 4), atol=1e-12)
