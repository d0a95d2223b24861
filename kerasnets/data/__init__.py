"""kerasnets.data: datasets through tensorflow-datasets (offline from a data
root), text tokenizers as Keras layers, and tf.data pipelines per task.

    from kerasnets import data
    train = data.load_image_classification("fashion_mnist", "train", batch_size=64, seed=0)
    lm, tokenizer = data.load_language_modeling("tiny_shakespeare", sequence_length=100, seed=0)

Every loader reads through `data.load` (tfds): from the data root when the
upstream files are there (`$KERASNETS_DATA_DIR`, `data_root=`, or a
`shared/data` folder above the working directory or the package), else by
the usual tfds download; `DatasetNotFoundError` says where it looked.
Token id 0 is padding everywhere.
"""

from kerasnets.data.bert_inputs import pack_bert_inputs, truncate_pair_lengths  # noqa: F401
from kerasnets.data.bert_pretraining import (  # noqa: F401
    IS_NEXT,
    NO_PAIR,
    NOT_NEXT,
    bert_pretraining_dataset,
    load_bert_pretraining,
    mask_tokens,
    sentence_pairs,
    split_segments,
    split_sentences,
)
from kerasnets.data.images import load_image_classification  # noqa: F401
from kerasnets.data.language_modeling import (  # noqa: F401
    adapt_character_tokenizer,
    language_modeling_dataset,
    load_language_modeling,
    load_text,
    next_token_windows,
)
from kerasnets.data.locations import DATA_DIR_ENV, DatasetNotFoundError, data_root, find_data_root  # noqa: F401
from kerasnets.data.pretraining_corpus import load_pretraining_corpus  # noqa: F401
from kerasnets.data.text_classification import (  # noqa: F401
    load_text_classification,
    load_texts,
    text_classification_dataset,
)
from kerasnets.data.tfds_loading import SOURCES, load, prepare  # noqa: F401
from kerasnets.data.throughput import measure_input_pipeline, steps_per_second  # noqa: F401
from kerasnets.tokenizers import (  # noqa: F401
    BERT_SPECIAL_TOKENS,
    OOV_ID,
    PADDING_ID,
    SEQ2SEQ_SPECIAL_TOKENS,
    CharacterTokenizer,
    WordTokenizer,
)
from kerasnets.data.translation import load_pairs, load_translation, teacher_forcing, translation_dataset  # noqa: F401
