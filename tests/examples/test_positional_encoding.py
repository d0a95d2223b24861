"""examples/positional_encoding.py in smoke mode: the table, shifts as rotations, permutation equivariance."""

import math

from tests.examples.conftest import assert_png


def test_positional_encoding(run_example):
    results, printed, output_dir = run_example("positional_encoding")

    # 1. The layer's table is the formula.
    assert results["pe_vs_numpy"] < 1e-5
    # 2. PE(pos + k) = R_k PE(pos) with one R_k for every pos; equal norms; dot products depend on p − q.
    assert results["shift_is_rotation"] < 1e-5
    assert results["pe_norm_spread"] < 1e-9 and results["dot_depends_on_offset_only"] < 1e-9
    # 3. Without positions, shuffling the input only shuffles the output; with PE it does not.
    for name in ("attention", "encoder_block"):
        assert results[f"{name}_equivariance"] < 1e-5, name
        assert results[f"{name}_equivariance_with_pe"] > 1e-3, name

    # 4. Both models train on Tiny Shakespeare: finite validation losses below the untrained ones.
    assert "Total params" in printed
    assert "positional_encoding" in printed[: printed.index("Total params")]  # the layer, in the summary
    for label in ("with_pe", "no_positions"):
        loss = results[f"validation_loss_{label}"]
        assert math.isfinite(loss) and loss < results[f"initial_loss_{label}"] - 0.5, label
        assert len(results["training_curves"][label]) == 10
    assert 2.5 < results["unigram_loss"] < math.log(67)

    # 5. Two readable pictures in the output directory.
    assert len(results["pictures"]) == 2
    for picture in results["pictures"]:
        assert picture.startswith(str(output_dir))
        assert_png(picture, min_size=(700, 450))
