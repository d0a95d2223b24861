"""Real text for the WordPiece tests: IMDB reviews, Tiny Shakespeare, SST-2 and MRPC sentences, hand-written lines.

`corpus_lines()` gives 5,000 lines to compare with Hugging Face; `training_lines()`
other lines to train the vocabulary on; `trained_vocabulary(path, lowercase)`
trains one with `tokenizers`' BertWordPieceTokenizer and writes vocab.txt.
"""

import functools
import gzip

from tests.data import data_root_or_skip

HAND_WRITTEN = [
    "Héllo, wörld! Ça va? naïve café résumé coöperate Ångström",
    "İstanbul İSTANBUL STRASSE Straße ß ẞ ﬁne ﬀ",
    "ΣΟΦΟΣ σοφός ΟΔΥΣΣΕΥΣ Ἀθῆναι ἄνθρωπος ς",
    "Привет, мир! Ёлка ЁЖИК Україна",
    "中文字符测试，你好！ 日本語のテキスト、カタカナ。 한국어 텍스트 𠀀𠀁 豈更",
    "emoji 😀🥰👍🏽 👨‍👩‍👧 ❤️ flags 🇫🇷🇩🇪 done",
    "tabs\tand\ttabs\t\t, new\nlines\r\nand    repeated     spaces   ",
    "control\x00chars\x07here\x1b[0m \u200b zero\u200dwidth \ufeffbom \u00ad soft\ufffdhyphen",
    "a" * 99 + " " + "b" * 100 + " " + "c" * 101 + " " + "supercalifragilisticexpialidocious" * 4,
    "!!!???... ,,,;;; ---___ ((())) [[[]]] {{{}}} @@## $$%% ^^&& ** ~~ `` '' \"\" "
    "«» „“ ‘’ … — – · • ¿¡",
    "a[SEP]b [sep] [MASK]x [UNK] [CLS][PAD] [CLS ] [[SEP]]",
    "don't won't it's I'm we've they're do not , . ? !",
    "",
    "   ",
    "x",
    "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ １２３ and ｶﾀｶﾅ",
    "Combining: e\u0301 a\u0300 n\u0303 o\u0308 ı̇ i\u0307 \u0301alone",
    "Arabic: مرحبا بالعالم، كيف حالك؟ Hebrew: שלום עולם",
    "Hindi: नमस्ते दुनिया। Thai: สวัสดีชาวโลก",
    "math ∑∫√∞ ≠ ≤ ≥ ± × ÷ ° ℃ ℉ № ™ © ® ½ ¼ ² ³ µ Ω",
    "private \ue000\uf8ff use \U000f0000 and unassigned \u0378 \U0010fffd",
    "numbers 1,234.56 3.14159 10^6 1e-9 +42 -7 #1 @user http://example.com/path?q=1&r=2",
]


def _imdb(root, count, phase):
    reviews = []
    with gzip.open(root / "imdb" / "train.tsv.gz", "rt", encoding="utf-8") as file:
        next(file)
        for index, line in enumerate(file):
            if index % 10 == phase:
                reviews.append(line.rstrip("\n").split("\t", 2)[2])
                if len(reviews) == count:
                    break
    return reviews


def _tsv_column(path, column, count, phase, header=True):
    with open(path, encoding="utf-8-sig") as file:
        rows = file.read().split("\n")[1 if header else 0 :]
    values = [row.split("\t")[column] for row in rows if row.count("\t") >= column]
    return values[phase::2][:count]


@functools.lru_cache(maxsize=None)
def _lines(phase):
    root = data_root_or_skip(
        "imdb/train.tsv.gz", "tiny_shakespeare/input.txt", "glue/sst2/train.tsv", "glue/mrpc/train.tsv"
    )
    shakespeare = (root / "tiny_shakespeare" / "input.txt").read_text(encoding="utf-8").split("\n")
    lines = _imdb(root, 2000, phase)
    lines += [line for line in shakespeare[phase::2] if line][:1200]
    lines += _tsv_column(root / "glue" / "sst2" / "train.tsv", 0, 800, phase)
    lines += _tsv_column(root / "glue" / "mrpc" / "train.tsv", 3, 500, phase)
    lines += _tsv_column(root / "glue" / "mrpc" / "train.tsv", 4, 500 - len(HAND_WRITTEN), phase)
    return lines


def corpus_lines():
    """5,000 lines: 2,000 IMDB reviews, 1,200 Shakespeare lines, 800 SST-2, 1,000 MRPC sentences, hand-written."""
    lines = _lines(1) + HAND_WRITTEN
    assert len(lines) == 5000, len(lines)
    return lines


def training_lines():
    """Other lines of the same sources (plus the hand-written ones, so their scripts get pieces)."""
    return _lines(0) + HAND_WRITTEN * 3


def mrpc_pairs(count=400):
    root = data_root_or_skip("glue/mrpc/dev.tsv")
    with open(root / "glue" / "mrpc" / "dev.tsv", encoding="utf-8-sig") as file:
        rows = [row.split("\t") for row in file.read().split("\n")[1:] if row.count("\t") >= 4]
    return [(row[3], row[4]) for row in rows[:count]]


def trained_vocabulary(directory, lowercase=True, vocabulary_size=8000):
    """Train a WordPiece vocabulary on `training_lines()`; returns the path of vocab.txt."""
    from tokenizers import BertWordPieceTokenizer

    trainer = BertWordPieceTokenizer(lowercase=lowercase)
    trainer.train_from_iterator(
        training_lines(),
        vocab_size=vocabulary_size,
        min_frequency=2,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        show_progress=False,
    )
    trainer.save_model(str(directory))
    return str(directory / "vocab.txt")


def hugging_face(vocabulary_path, **kwargs):
    """transformers' BertTokenizerFast on a vocab.txt.

    transformers 5 takes the file as `vocab=`; its `vocab_file=` argument is
    ignored by the constructor (the tokenizer then has only the 5 special tokens).
    """
    from transformers import BertTokenizerFast

    tokenizer = BertTokenizerFast(vocab=vocabulary_path, **kwargs)
    assert len(tokenizer) > 5, "the vocabulary file was not read"
    return tokenizer
