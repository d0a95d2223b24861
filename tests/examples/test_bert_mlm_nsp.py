"""examples/bert_mlm_nsp.py in smoke mode: BERT's inputs, its masking, both losses, and the pictures."""

import math
import re

from tests.examples.conftest import assert_png


def test_smoke_run(run_example):
    results, printed, output_dir = run_example("bert_mlm_nsp")

    assert "Total params" in printed
    # The hand-made pieces match the model: the summed embeddings and the MLM loss on chosen positions.
    assert results["embedding_difference"] < 1e-5
    assert results["mlm_loss_difference"] < 1e-5

    # The packed example: [CLS] A [SEP] B [SEP], segment 0 then 1 (then padding), and its chosen positions.
    assert re.search(r"fed to BERT: \[CLS\] .+ \[SEP\] .+ \[SEP\]", printed)
    segments = re.search(r"segment ids: (\d+)", printed).group(1)
    assert re.fullmatch(r"0+1+", segments), segments
    assert re.search(r"t=\s*\d+ .*\((\[MASK\]|random|kept)\)", printed)

    # BERT's rates, measured on real batches (48 pairs, about 190 chosen tokens in the smoke run).
    assert 0.10 <= results["chosen_rate"] <= 0.20
    assert 0.65 <= results["mask_token_rate"] <= 0.92
    assert results["random_token_rate"] <= 0.25 and results["kept_rate"] <= 0.25
    assert math.isclose(results["mask_token_rate"] + results["random_token_rate"] + results["kept_rate"], 1.0)
    assert 0.3 <= results["is_next_rate"] <= 0.7

    # Training: the untrained MLM loss is about ln V, finite losses, and held-out MLM loss falls.
    assert 6.0 < results["initial_mlm_loss"] < 9.0
    for key in ("train_mlm_loss", "train_nsp_loss", "val_mlm_loss", "val_nsp_loss"):
        assert len(results[key]) == 2 and all(math.isfinite(value) for value in results[key])
    # The held-out pairs keep their masks, so the two validation losses compare the same questions.
    assert results["val_mlm_loss"][-1] < results["val_mlm_loss"][0]
    assert results["train_mlm_loss"][-1] < results["train_mlm_loss"][0]
    for key in ("mlm_accuracy", "mlm_baseline_accuracy", "nsp_accuracy"):
        assert 0.0 <= results[key] <= 1.0
    assert 0.5 <= results["nsp_baseline_accuracy"] <= 1.0
    assert "MLM accuracy" in printed and "NSP accuracy" in printed

    # Filling in: a real sentence with one [MASK], and five guesses.
    assert results["fill_in"]["answer"] not in ("[MASK]", "[CLS]", "[SEP]", "")
    assert len(results["fill_in"]["top5"]) == 5
    assert "Fill in the [MASK]" in printed

    assert len(results["pictures"]) == 2
    for path in results["pictures"]:
        assert str(path).startswith(str(output_dir)) and path.endswith(".png")
        assert_png(path, min_size=(400, 300))
