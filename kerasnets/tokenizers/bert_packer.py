"""`BertPacker`: ragged token ids of one or two segments → BERT's three inputs, as Hugging Face packs them.

    [CLS] a [SEP]            segment ids 0 …
    [CLS] a [SEP] b [SEP]    segment ids 0 for [CLS] a [SEP], 1 for b [SEP]

then padding to `sequence_length` (`padding_mask` 1 on real tokens). A pair
that does not fit is cut by `tokenizers`' longest-first rule (see
`kerasnets.data.bert_inputs`), so the outputs equal Hugging Face's
`tokenizer(a, b, truncation=True, max_length=L, padding="max_length")`
(`input_ids`, `token_type_ids`, `attention_mask`).

    tokenizer = WordPieceTokenizer.from_vocabulary_file("vocab.txt")
    packer = BertPacker(128, tokenizer.cls_id, tokenizer.sep_id, tokenizer.padding_id)
    inputs = packer(tokenizer.tokenize_ragged(questions), tokenizer.tokenize_ragged(passages))
    bert(inputs)   # {"token_ids", "segment_ids", "padding_mask"}
"""

import keras
import tensorflow as tf

TRUNCATIONS = {"longest_first": "huggingface"}


@keras.saving.register_keras_serializable(package="kerasnets")
class BertPacker(keras.layers.Layer):
    """Pack ragged ids `(B, None)` of a first and optional second segment into BERT's inputs.

    Args:
        sequence_length: Length of every output row.
        cls_id, sep_id, pad_id: Ids of `[CLS]`, `[SEP]` and padding.
        truncation: "longest_first" (Hugging Face's rule).
    """

    def __init__(self, sequence_length, cls_id, sep_id, pad_id=0, truncation="longest_first", **kwargs):
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False
        self.built = True
        if truncation not in TRUNCATIONS:
            raise ValueError(f"truncation must be one of {sorted(TRUNCATIONS)}; got {truncation!r}.")
        if int(sequence_length) < 3:
            raise ValueError(f"sequence_length must leave room for [CLS] a [SEP] b [SEP]; got {sequence_length}.")
        self.sequence_length = int(sequence_length)
        self.cls_id = int(cls_id)
        self.sep_id = int(sep_id)
        self.pad_id = int(pad_id)
        self.truncation = truncation

    def call(self, first, second=None):
        """`first`, `second`: int RaggedTensors `(B, None)` (dense `(B, L)` ids are taken whole)."""

        from kerasnets.data.bert_inputs import pack_bert_inputs  # here: kerasnets.data imports kerasnets.tokenizers

        def ragged(ids):
            if ids is None or isinstance(ids, tf.RaggedTensor):
                return ids
            return tf.RaggedTensor.from_tensor(tf.convert_to_tensor(ids))

        return pack_bert_inputs(
            ragged(first),
            ragged(second),
            sequence_length=self.sequence_length,
            cls_id=self.cls_id,
            sep_id=self.sep_id,
            pad_id=self.pad_id,
            truncation_rule=TRUNCATIONS[self.truncation],
        )

    def compute_output_spec(self, first, second=None):
        spec = keras.KerasTensor((first.shape[0], self.sequence_length), dtype="int32")
        return {"token_ids": spec, "segment_ids": spec, "padding_mask": spec}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "cls_id": self.cls_id,
                "sep_id": self.sep_id,
                "pad_id": self.pad_id,
                "truncation": self.truncation,
            }
        )
        return config
