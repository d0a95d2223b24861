"""examples/residual_and_layer_norm.py in smoke mode: LN by hand, the residual wrappers, gradients, training."""

import math

from tests.examples.conftest import assert_png

VARIANTS = ("pre-LN", "post-LN", "no residual")


def test_residual_and_layer_norm(run_example):
    results, printed, output_dir = run_example("residual_and_layer_norm")

    # 1. LN from scratch (NumPy and keras.ops) is keras.layers.LayerNormalization with the same γ, β.
    assert results["layer_norm_numpy_vs_keras"] < 1e-5
    assert results["layer_norm_ops_vs_keras"] < 1e-5
    # 2. The written-out residual wrappers reproduce kerasnets' decoder block, post-LN and pre-LN.
    assert results["post-LN_block_vs_kerasnets"] < 1e-5
    assert results["pre-LN_block_vs_kerasnets"] < 1e-5

    # 3. A gradient norm per block for each variant: positive and finite.
    norms = results["gradient_norms"]
    assert set(norms) == set(VARIANTS) | {"no LN", "plain"}
    depths = {len(values) for values in norms.values()}
    assert len(depths) == 1 and depths.pop() >= 2
    assert all(0 < value < 1e3 for values in norms.values() for value in values)
    # With neither residual nor LN the bottom block gets far less gradient than the top one;
    # the residual path alone keeps them within a small factor.
    assert norms["plain"][0] < norms["plain"][-1] / 5
    assert norms["no LN"][0] > norms["no LN"][-1] / 5

    # 4. Every variant trains on Tiny Shakespeare; the curves and losses are there and finite.
    assert "Total params" in printed
    for name in VARIANTS:
        key = name.replace(" ", "_")
        loss = results[f"validation_loss_{key}"]
        assert math.isfinite(loss) and loss < results[f"initial_loss_{key}"] - 0.3, name
        curve = results["training_curves"][name]
        assert len(curve) == 10 and curve[-1] < curve[0], name
    assert 2.5 < results["unigram_loss"] < math.log(67)

    # 5. The picture.
    (picture,) = results["pictures"]
    assert picture.startswith(str(output_dir))
    assert_png(picture, min_size=(1000, 400))
