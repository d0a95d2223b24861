"""`kerasnets plot` and `kerasnets attention`: readable PNGs of the expected size, and the
attention weights drawn are softmaxes over the source (rows sum to 1)."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from matplotlib import image as mpimg

from kerasnets import files, models, pictures
from kerasnets.cli import main
from kerasnets.data.translation import TRANSLATION_PUNCTUATION
from kerasnets.export.artifacts import save_for_export
from kerasnets.tokenizers import BERT_SPECIAL_TOKENS, SEQ2SEQ_SPECIAL_TOKENS, WordTokenizer

SPANISH = ["tengo", "hambre", "dónde", "está", "la", "estación", "hola", "gracias"]
ENGLISH = ["i", "am", "hungry", "where", "is", "the", "station", "hello", "thanks"]
SOURCE_TEXT = "¿Dónde está la estación?"  # 4 words after standardization


def png_shape(path):
    pixels = mpimg.imread(path)  # raises on a file that is not a readable PNG
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    return pixels.shape[:2]


def _run_dir(path, model, generation=None, tokenizer=None, sequence_length=8):
    """A run directory as `kerasnets train` leaves it: model.keras, export.json, config.json."""
    save_for_export(
        path, model, generation=generation, tokenizer=tokenizer,
        sequence_length=sequence_length if tokenizer is not None else None,
    )  # fmt: skip
    files.write_json(os.path.join(path, "config.json"), {"config": {"sequence_length": sequence_length}})
    return str(path)


def _translation_tokenizers():
    # As `kerasnets train` makes them for spa_eng (`data.load_translation`).
    source = WordTokenizer(SPANISH, special_tokens=SEQ2SEQ_SPECIAL_TOKENS, punctuation=TRANSLATION_PUNCTUATION)
    target = WordTokenizer(ENGLISH, special_tokens=SEQ2SEQ_SPECIAL_TOKENS, punctuation=TRANSLATION_PUNCTUATION)
    return source, target


def _no_padding_predictions(model):
    """An untrained model may predict id 0 (padding) and end its output at once: forbid it."""
    layer = getattr(model, "output_projection", None) or model.output_layer
    bias = layer.bias
    bias.assign(np.where(np.arange(bias.shape[0]) == 0, -1e4, bias.numpy()).astype("float32"))


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    keras.utils.set_random_seed(7)
    root = tmp_path_factory.mktemp("runs")
    source, target = _translation_tokenizers()
    generation = {"source_tokenizer": source, "target_tokenizer": target}
    transformer = models.build(
        "transformer", vocabulary_size=source.vocabulary_size(), target_vocabulary_size=target.vocabulary_size(),
        num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=9, tie_embeddings=False,
    )  # fmt: skip
    _no_padding_predictions(transformer)
    seq2seq = models.build(
        "seq2seq", source_vocabulary_size=source.vocabulary_size(), target_vocabulary_size=target.vocabulary_size(),
        embedding_dim=8, units=8,
    )  # fmt: skip
    _no_padding_predictions(seq2seq)
    words = WordTokenizer(SPANISH + ENGLISH, special_tokens=BERT_SPECIAL_TOKENS)
    bert = models.build(
        "bert", head="classifier", vocabulary_size=words.vocabulary_size(), num_layers=2, num_heads=2,
        hidden_dim=16, intermediate_dim=32, max_sequence_length=12,
    )  # fmt: skip
    return {
        "transformer": _run_dir(root / "transformer", transformer, generation=generation),
        "seq2seq": _run_dir(root / "seq2seq", seq2seq, generation=generation),
        "bert": _run_dir(root / "bert", bert, tokenizer=words, sequence_length=12),
    }


# -- plot ---------------------------------------------------------------------------------------


def _graphviz_size(model, dpi):
    """The drawing's size in pixels as Graphviz lays it out (`-Tplain`: inches) for the same graph,
    plus Graphviz's default margin of 4 points on every side of a bitmap."""
    dot = keras.utils.model_to_dot(
        model, show_shapes=True, show_layer_names=True, show_layer_activations=True, dpi=dpi
    )
    header = dot.create(format="plain").decode().splitlines()[0].split()  # graph scale width height
    pad = 2 * 4 / 72
    return (float(header[3]) + pad) * dpi, (float(header[2]) + pad) * dpi


def test_plot_writes_the_lenet5_diagram(tmp_path, capsys):
    path = tmp_path / "lenet5.png"
    assert main(["plot", "lenet5", "-o", str(path), "--dpi", "50"]) == 0
    assert str(path) in capsys.readouterr().out
    height, width = png_shape(path)
    expected_height, expected_width = _graphviz_size(models.lenet5(), 50)
    assert abs(height - expected_height) <= 2 and abs(width - expected_width) <= 2
    assert main(["plot", "lenet5", "-o", str(tmp_path / "big.png"), "--dpi", "100"]) == 0
    big_height, big_width = png_shape(tmp_path / "big.png")
    assert abs(big_height - 2 * height) <= 4 and abs(big_width - 2 * width) <= 4
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == []  # no staging file left


def test_plot_takes_presets_and_overrides(tmp_path):
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    assert main(["plot", "gpt", "--set", "num_layers=1", "--set", "hidden_dim=32", "-o", str(one)]) == 0
    assert main(["plot", "gpt", "--set", "num_layers=2", "--set", "hidden_dim=32", "-o", str(two)]) == 0
    assert png_shape(two)[0] > png_shape(one)[0]  # one more decoder block: a taller graph
    assert main(["plot", "bert", "--preset", "bert_tiny", "--rankdir", "LR", "-o", str(tmp_path / "b.png")]) == 0
    height, width = png_shape(tmp_path / "b.png")
    assert width > height


@pytest.mark.parametrize(
    "argv, message",
    [
        (["plot", "resnet"], "unknown architecture 'resnet'"),
        (["plot", "mlp", "--set", "widht=3"], "Unknown hyperparameter widht for mlp"),
        (["plot", "lenet5", "--dpi", "0"], "--dpi must be at least 1"),
    ],
)
def test_plot_bad_input_is_one_line_and_exit_code_2(argv, message, capsys, tmp_path):
    assert main(argv + ["-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "x.png").exists()


_WITHOUT = {
    "graphviz": "import os; os.environ['PATH'] = ''",  # pydot runs `dot` from PATH
    "pydot": "import sys; sys.modules['pydot'] = None",  # `import pydot` raises ImportError
}


@pytest.mark.parametrize("missing, hint", [("graphviz", "apt install graphviz"), ("pydot", "pip install pydot")])
def test_plot_without_graphviz_or_pydot_says_how_to_install_it(missing, hint, tmp_path):
    code = f"{_WITHOUT[missing]}; import sys; from kerasnets.cli import main; sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", code, "plot", "lenet5", "-o", str(tmp_path / "m.png")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("kerasnets:")]
    assert len(lines) == 1 and hint in lines[0] and "Traceback" not in result.stderr
    if missing == "graphviz":
        assert "brew install graphviz" in lines[0]
    assert not (tmp_path / "m.png").exists()


# -- attention ----------------------------------------------------------------------------------


def _check_rows_sum_to_one(attention):
    assert np.all(attention.weights >= 0)
    np.testing.assert_allclose(attention.weights.sum(axis=-1), 1.0, atol=1e-5)


def test_transformer_cross_attention_of_greedy_decoding(run_dirs):
    attention = pictures.attention_map(run_dirs["transformer"], SOURCE_TEXT, layers="all")
    assert attention.kind == "cross" and attention.layers == [0, 1]
    assert attention.columns == ["dónde", "está", "la", "estación"]
    layers, heads, rows, columns = attention.weights.shape
    assert (layers, heads, columns) == (2, 2, 4) and rows == len(attention.rows) >= 1
    assert set(attention.rows) <= set(ENGLISH) | {"[UNK]", "[start]", "[end]"}
    _check_rows_sum_to_one(attention)

    # The rows are the weights the cached decoding loop used, step by step.
    model, options, _ = pictures.load_run(run_dirs["transformer"])
    source = np.asarray(options["generation"]["source_tokenizer"].tokenize([SOURCE_TEXT]), "int32")
    start = options["generation"]["target_tokenizer"].special_token_ids["[start]"]
    target = options["generation"]["target_tokenizer"]
    generated = [target.token_to_id(token) for token in attention.rows]
    cache = model.build_cache(source, len(generated))
    self_caches, stepped = cache["self"], []
    for index, token_id in enumerate([start] + generated[:-1]):
        y = model.target_embedding(np.array([[token_id]], "int32"), start_index=index)
        new_caches = []
        for block, self_cache, cross_cache in zip(model.decoder_layers, self_caches, cache["cross"]):
            y, _, cross_weights, self_cache, _ = block(
                y, encoder_padding_mask=cache["source_mask"], self_attention_cache=self_cache,
                self_attention_cache_update_index=index, cross_attention_cache=cross_cache,
                return_attention_scores=True, training=False,
            )  # fmt: skip
            new_caches.append(self_cache)
        self_caches = new_caches
        stepped.append(np.asarray(cross_weights)[0, :, 0])
        assert int(np.argmax(np.asarray(model.logits(y))[0, -1])) == generated[index]  # greedy: the most likely
    np.testing.assert_allclose(np.stack(stepped, axis=1), attention.weights[-1], atol=1e-5)


def test_transformer_self_and_causal_attention(run_dirs):
    encoder = pictures.attention_map(run_dirs["transformer"], SOURCE_TEXT, kind="self", layers=0)
    assert encoder.weights.shape == (1, 2, 4, 4) and encoder.rows == encoder.columns
    _check_rows_sum_to_one(encoder)
    causal = pictures.attention_map(run_dirs["transformer"], SOURCE_TEXT, kind="causal")
    assert causal.rows[0] == "[start]"
    _check_rows_sum_to_one(causal)
    np.testing.assert_array_equal(np.triu(causal.weights[0, 0], k=1), 0.0)  # no peeking at later tokens


def test_seq2seq_bahdanau_alignment(run_dirs):
    attention = pictures.attention_map(run_dirs["seq2seq"], SOURCE_TEXT, max_new_tokens=5)
    assert attention.model == "seq2seq (bahdanau)" and attention.weights.shape[:2] == (1, 1)
    assert attention.weights.shape[3] == 4 and 1 <= attention.weights.shape[2] <= 5
    _check_rows_sum_to_one(attention)


def test_bert_self_attention_heads(run_dirs):
    attention = pictures.attention_map(run_dirs["bert"], "Hola, gracias", text_pair="thanks", layers=1)
    assert attention.rows == ["[CLS]", "hola", "gracias", "[SEP]", "thanks", "[SEP]"] == attention.columns
    assert attention.weights.shape == (1, 2, 6, 6) and attention.layers == [1]
    _check_rows_sum_to_one(attention)


@pytest.mark.parametrize("name, extra", [("transformer", []), ("seq2seq", []), ("bert", ["--layer", "all"])])
def test_attention_command_writes_a_png_of_the_expected_size(name, extra, run_dirs, tmp_path, capsys):
    path = tmp_path / f"{name}.png"
    assert main(["attention", run_dirs[name], "--text", SOURCE_TEXT, "-o", str(path), "--dpi", "40", *extra]) == 0
    assert str(path) in capsys.readouterr().out
    attention = pictures.attention_map(run_dirs[name], SOURCE_TEXT, layers="all" if extra else -1)
    width, height = pictures.figure_size(attention)
    assert png_shape(path) == pytest.approx((height * 40, width * 40), abs=1)
    # Averaging the heads leaves one panel per layer: a narrower picture.
    mean = tmp_path / f"{name}_mean.png"
    assert main(["attention", run_dirs[name], "--text", SOURCE_TEXT, "-o", str(mean), "--dpi", "40",
                 "--heads", "mean", *extra]) == 0  # fmt: skip
    heads = attention.weights.shape[1]
    assert (png_shape(mean)[1] < png_shape(path)[1]) == (heads > 1)


def test_longer_text_gives_a_larger_picture(run_dirs, tmp_path):
    short, long = tmp_path / "short.png", tmp_path / "long.png"
    assert main(["attention", run_dirs["bert"], "--text", "hola", "-o", str(short), "--dpi", "30"]) == 0
    assert main(["attention", run_dirs["bert"], "--text", "hola gracias tengo hambre", "-o", str(long),
                 "--dpi", "30"]) == 0  # fmt: skip
    assert all(big > small for big, small in zip(png_shape(long), png_shape(short)))


@pytest.mark.parametrize(
    "name, extra, message",
    [
        ("bert", ["--kind", "cross"], "self-attention only"),
        ("seq2seq", ["--kind", "self"], "('cross') only"),
        ("transformer", ["--layer", "5"], "Layer 5 does not exist: the model has 2"),
        ("transformer", ["--layer", "first"], "--layer must be 'all' or block indices"),
        ("transformer", ["--text-pair", "x"], "--text-pair is for BERT models"),
        (None, [], "No run directory"),
    ],
)
def test_attention_bad_input_is_one_line_and_exit_code_2(name, extra, message, run_dirs, tmp_path, capsys):
    run_dir = run_dirs[name] if name else str(tmp_path / "missing")
    assert main(["attention", run_dir, "--text", SOURCE_TEXT, "-o", str(tmp_path / "a.png"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "a.png").exists()


def test_a_model_without_attention_is_refused(tmp_path):
    source, target = _translation_tokenizers()
    model = models.build("seq2seq", source_vocabulary_size=12, target_vocabulary_size=13, embedding_dim=4, units=4,
                         attention=None)  # fmt: skip
    run_dir = _run_dir(tmp_path / "run", model, generation={"source_tokenizer": source, "target_tokenizer": target})
    with pytest.raises(ValueError, match="attention=None"):
        pictures.attention_map(run_dir, SOURCE_TEXT)
    with pytest.raises(ValueError, match="Attention maps are drawn for"):
        pictures.attention_map_of(models.lenet5(), {}, "x")


def test_learning_curves_of_many_runs_in_one_figure(tmp_path):
    from kerasnets.training.checkpoints import write_history_csv

    runs = {}
    for index, name in enumerate(["mlp", "lenet5", "gpt", "bert", "text_cnn"]):
        path = tmp_path / f"{name}.csv"
        rows = [{"epoch": epoch, "loss": 2.0 / (epoch + 1 + index), "val_loss": 2.2 / (epoch + 1 + index),
                 "accuracy": 0.5 + 0.1 * epoch} for epoch in range(3)]  # fmt: skip
        write_history_csv(str(path), rows)  # the trainer's own history.csv writer
        runs[name] = str(path)
    write_history_csv(str(tmp_path / "no_loss.csv"), [{"epoch": 0, "bleu": 3.0}])
    runs["no_loss"] = str(tmp_path / "no_loss.csv")
    runs["missing"] = str(tmp_path / "missing.csv")

    curves = pictures.read_history(runs["lenet5"])
    assert curves["val_loss"] == [(1, 2.2 / 2), (2, 2.2 / 3), (3, 2.2 / 4)]  # epochs counted from 1
    drawn = pictures.draw_learning_curves(runs, tmp_path / "curves.png", columns=4, dpi=50)
    assert drawn == ["mlp", "lenet5", "gpt", "bert", "text_cnn"]  # in order; no loss / no file: skipped
    assert png_shape(tmp_path / "curves.png") == (2 * 2.7 * 50, 4 * 3.6 * 50)  # 2 rows × 4 panels
    assert sorted(os.listdir(tmp_path)) == sorted([*(f"{n}.csv" for n in drawn), "no_loss.csv", "curves.png"])
    with pytest.raises(ValueError, match="none of the runs has a history with loss"):
        pictures.draw_learning_curves({"no_loss": runs["no_loss"]}, tmp_path / "none.png")
