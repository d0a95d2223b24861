import math

import keras
from keras import ops

from kerasnets.layers.initializers import clone_initializer
from kerasnets.layers.position_embedding import PositionEmbedding
from kerasnets.layers.positional_encoding import PositionalEncoding

POSITION_ENCODINGS = ("learned", "sinusoidal")


@keras.saving.register_keras_serializable(package="kerasnets")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token + position (+ segment) embeddings, the input layer of Transformers.

        x[b, t] = s · E[token_ids[b, t]] + P[t] (+ S[segment_ids[b, t]])

    `E` is the `(vocabulary_size, embedding_dim)` token table, `s` is `√d`
    when `scale_embeddings=True` (Vaswani et al. 2017, §3.4) and 1 otherwise,
    `P` is a learned `PositionEmbedding` or the sinusoidal `PositionalEncoding`,
    and `S` the optional segment (token type) table used by BERT.

    With `mask_zero=True`, token id 0 is padding: the output carries the Keras
    mask `token_ids != 0`, which attention layers downstream honour.

    Called with `reverse=True` on hidden states `h` of shape `(..., d)`, the
    layer returns vocabulary logits `h Eᵀ` with the same table: this is how
    GPT, BERT's MLM head and the Transformer tie their output projection to
    the input embedding (Press & Wolf 2017).

    Args:
        vocabulary_size: Number of token ids.
        sequence_length: Longest sequence (rows of the position table).
        embedding_dim: Width d of the embeddings.
        num_segments: Number of segment types; 0 for none.
        position_encoding: "learned" or "sinusoidal".
        scale_embeddings: Multiply token embeddings by √d.
        mask_zero: Treat token id 0 as padding.
        embeddings_initializer: Initializer for the token, position and segment
            tables (each drawn from its own copy, so they start independent).

    Call arguments:
        inputs: Integer token ids `(B, T)`, or hidden states when `reverse=True`.
        segment_ids: Integer `(B, T)`, required iff `num_segments > 0`.
        start_index: Position of the first token (for step-by-step decoding).
        reverse: Project hidden states back onto the vocabulary.

    Example:

    >>> embed = TokenAndPositionEmbedding(1000, 128, 64, mask_zero=True)
    >>> x = embed(keras.ops.array([[5, 9, 2, 0]]))        # (1, 4, 64)
    >>> logits = embed(x, reverse=True)                   # (1, 4, 1000)
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        embedding_dim,
        num_segments=0,
        position_encoding="learned",
        scale_embeddings=False,
        mask_zero=False,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if position_encoding not in POSITION_ENCODINGS:
            raise ValueError(
                f"position_encoding must be one of {', '.join(POSITION_ENCODINGS)}; got '{position_encoding}'."
            )
        self.vocabulary_size = int(vocabulary_size)
        self.sequence_length = int(sequence_length)
        self.embedding_dim = int(embedding_dim)
        self.num_segments = int(num_segments)
        self.position_encoding = position_encoding
        self.scale_embeddings = scale_embeddings
        self.mask_zero = mask_zero
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = True

        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size,
            self.embedding_dim,
            embeddings_initializer=clone_initializer(self.embeddings_initializer, f"{self.name}/token_embedding"),
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        if position_encoding == "learned":
            self.position_embedding = PositionEmbedding(
                self.sequence_length,
                initializer=self.embeddings_initializer,
                dtype=self.dtype_policy,
                name="position_embedding",
            )
        else:
            self.position_embedding = PositionalEncoding(
                self.sequence_length, dtype=self.dtype_policy, name="positional_encoding"
            )
        self.segment_embedding = None
        if self.num_segments:
            self.segment_embedding = keras.layers.Embedding(
                self.num_segments,
                self.embedding_dim,
                embeddings_initializer=clone_initializer(self.embeddings_initializer, f"{self.name}/segment_embedding"),
                dtype=self.dtype_policy,
                name="segment_embedding",
            )

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        embedded_shape = tuple(input_shape) + (self.embedding_dim,)
        self.position_embedding.build(embedded_shape)
        if self.segment_embedding is not None:
            self.segment_embedding.build(input_shape)
        self.built = True

    @property
    def embeddings(self):
        """The token table E, shared by the forward and the reverse call."""
        return self.token_embedding.embeddings

    def call(self, inputs, segment_ids=None, start_index=0, reverse=False):
        if reverse:
            table = ops.cast(self.embeddings, inputs.dtype)
            return ops.matmul(inputs, ops.transpose(table))
        if (segment_ids is None) != (self.segment_embedding is None):
            raise ValueError(
                f"{self.name}: segment_ids must be given exactly when num_segments > 0 "
                f"(num_segments={self.num_segments})."
            )
        x = self.token_embedding(inputs)
        if self.scale_embeddings:
            x = x * ops.cast(math.sqrt(self.embedding_dim), x.dtype)
        x = self.position_embedding(x, start_index=start_index)
        if self.segment_embedding is not None:
            x = x + self.segment_embedding(segment_ids)
        return x

    def compute_mask(self, inputs, previous_mask=None):
        if "int" not in keras.backend.standardize_dtype(inputs.dtype):
            return previous_mask  # reverse call on hidden states
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_spec(self, inputs, segment_ids=None, start_index=0, reverse=False):
        if reverse:
            return keras.KerasTensor(tuple(inputs.shape[:-1]) + (self.vocabulary_size,), dtype=self.compute_dtype)
        return keras.KerasTensor(tuple(inputs.shape) + (self.embedding_dim,), dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "num_segments": self.num_segments,
                "position_encoding": self.position_encoding,
                "scale_embeddings": self.scale_embeddings,
                "mask_zero": self.mask_zero,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
