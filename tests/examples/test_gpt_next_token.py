"""examples/gpt_next_token.py in smoke mode: shifted targets, the loss by hand, causality, generation."""

import math

from tests.examples.conftest import assert_png


def test_smoke_run(run_example):
    results, printed, output_dir = run_example("gpt_next_token")

    assert "Total params" in printed
    assert results["targets_are_shifted_inputs"] is True
    assert results["loss_difference"] < 1e-5
    # Untrained, every character is about equally likely: loss ≈ ln V; the unigram model does better.
    assert abs(results["initial_loss"] - results["uniform_loss"]) < 0.1
    assert results["unigram_loss"] < results["uniform_loss"]

    # The causal mask, by behaviour: editing the second half moves no earlier prediction.
    assert results["causal_past_change"] < 1e-6
    assert results["causal_future_change"] > 1e-4

    # Training lowers the loss; perplexity is exp(loss).
    assert all(math.isfinite(loss) for loss in results["train_loss"] + results["val_loss_curve"])
    assert results["val_loss"] < results["initial_loss"]
    assert math.isclose(results["perplexity"], math.exp(results["val_loss"]), rel_tol=1e-6)
    assert len(results["per_position_loss"]) == 32
    assert "perplexity" in printed

    # Generation through the model's own API: the prompt, then new characters.
    for key in ("greedy_text", "sampled_text"):
        assert results[key].startswith("ROMEO:") and len(results[key]) >= len("ROMEO:") + 12
    probabilities = [p for _, p in results["next_token_top"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0 + 1e-5

    (path,) = results["pictures"]
    assert str(path).startswith(str(output_dir))
    assert_png(path, min_size=(400, 300))
