import keras
from keras import ops

from kerasnets.layers.token_and_position_embedding import TokenAndPositionEmbedding
from kerasnets.layers.transformer_decoder_block import TransformerDecoderBlock
from kerasnets.layers.transformer_encoder_block import TransformerEncoderBlock
from kerasnets.models.presets import with_presets
from kerasnets.models.seq2seq_lm import Seq2SeqLM

PRESETS = {
    # Vaswani et al. 2017, Table 3 "base": shared 37k BPE vocabulary, three-way tied embeddings.
    "transformer_base": dict(
        vocabulary_size=37000,
        num_layers=6,
        num_heads=8,
        hidden_dim=512,
        intermediate_dim=2048,
        dropout=0.1,
        max_sequence_length=256,
    ),
}


@keras.saving.register_keras_serializable(package="kerasnets")
class TransformerSeq2Seq(Seq2SeqLM):
    """The Transformer encoder–decoder of Vaswani et al. 2017 ("Attention Is All You Need").

        x = Dropout(√d · E_src[source] + PE)            → N × TransformerEncoderBlock → memory
        y = Dropout(√d · E_tgt[target] + PE)            → N × TransformerDecoderBlock(·, memory)
        logits = y W_out (W_out = E_tgtᵀ when tied);   p(next target token) = softmax(logits)

    Post-LN blocks, sinusoidal positional encoding, ReLU feed-forward. Token
    id 0 is padding on both sides (never attended to). With one vocabulary
    (`target_vocabulary_size=None`) the source and target embeddings are one
    table, and with `tie_embeddings` the output projection is that table too
    (§3.4). Trained with teacher forcing (`decoder_token_ids` is the target
    shifted right); decoding encodes the source once, projects each decoder
    block's cross-attention keys and values once, and keeps a self-attention
    key/value cache per block.

    Args:
        vocabulary_size: Source vocabulary (and target, when shared).
        target_vocabulary_size: A separate target vocabulary, or None to share.
        num_layers: Encoder blocks, and decoder blocks (N).
        num_heads: Attention heads (h).
        hidden_dim: Model width (d_model).
        intermediate_dim: Feed-forward width (d_ff).
        max_sequence_length: Longest source or target sequence.
        dropout: Rate for embeddings, residuals and attention (P_drop).
        tie_embeddings: Use the target embedding as the output projection.
        layer_norm_epsilon: Epsilon of the layer normalisations.

    Attributes:
        source_embedding, target_embedding (the same layer when shared),
        encoder_layers, decoder_layers, output_projection (None when tied),
        probabilities.
    """

    def __init__(
        self,
        vocabulary_size=8000,
        target_vocabulary_size=None,
        num_layers=2,
        num_heads=4,
        hidden_dim=128,
        intermediate_dim=512,
        max_sequence_length=128,
        dropout=0.1,
        tie_embeddings=True,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}.")

        def embedding(vocabulary, layer_name):
            return TokenAndPositionEmbedding(
                vocabulary,
                max_sequence_length,
                hidden_dim,
                position_encoding="sinusoidal",
                scale_embeddings=True,
                mask_zero=True,
                embeddings_initializer=keras.initializers.RandomNormal(stddev=hidden_dim**-0.5),
                name=layer_name,
            )

        block_kwargs = dict(
            intermediate_dim=intermediate_dim,
            num_heads=num_heads,
            dropout=dropout,
            layer_norm_epsilon=layer_norm_epsilon,
        )
        if target_vocabulary_size is None:
            self.source_embedding = self.target_embedding = embedding(vocabulary_size, "shared_embedding")
        else:
            self.source_embedding = embedding(vocabulary_size, "encoder_embedding")
            self.target_embedding = embedding(target_vocabulary_size, "decoder_embedding")
        self.encoder_dropout = keras.layers.Dropout(dropout, name="encoder_embedding_dropout")
        self.decoder_dropout = keras.layers.Dropout(dropout, name="decoder_embedding_dropout")
        self.encoder_layers = [
            TransformerEncoderBlock(name=f"encoder_block_{index}", **block_kwargs) for index in range(num_layers)
        ]
        self.decoder_layers = [
            TransformerDecoderBlock(name=f"decoder_block_{index}", **block_kwargs) for index in range(num_layers)
        ]
        outputs_vocabulary = target_vocabulary_size or vocabulary_size
        self.output_projection = (
            None if tie_embeddings else keras.layers.Dense(outputs_vocabulary, name="output_projection")
        )
        self.probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")

        encoder_token_ids = keras.Input(shape=(None,), dtype="int32", name="encoder_token_ids")
        decoder_token_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_token_ids")
        x = self.encoder_dropout(self.source_embedding(encoder_token_ids))
        for block in self.encoder_layers:
            x = block(x)
        memory = x
        y = self.decoder_dropout(self.target_embedding(decoder_token_ids))
        for block in self.decoder_layers:
            y = block(y, memory)
        kwargs.setdefault("name", "transformer")
        super().__init__(
            inputs={"encoder_token_ids": encoder_token_ids, "decoder_token_ids": decoder_token_ids},
            outputs=self.probabilities(self.logits(y)),
            **kwargs,
        )

        self.vocabulary_size = vocabulary_size
        self.target_vocabulary_size = target_vocabulary_size
        self.source_vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.source_max_sequence_length = max_sequence_length
        self.dropout = dropout
        self.tie_embeddings = tie_embeddings
        self.layer_norm_epsilon = layer_norm_epsilon

    def logits(self, decoder_states):
        """Target-vocabulary logits of decoder outputs `(…, hidden_dim)`."""
        if self.output_projection is None:
            return self.target_embedding(decoder_states, reverse=True)
        return self.output_projection(decoder_states)

    def encode(self, source_ids):
        """The encoder's output `(B, S, hidden_dim)` for source ids `(B, S)` (0 = padding)."""
        x = self.source_embedding(source_ids)
        padding_mask = ops.not_equal(source_ids, 0)
        for block in self.encoder_layers:
            x = block(x, padding_mask=padding_mask, training=False)
        return x

    def build_cache(self, source_ids, length):
        """`{"self": [(B, 2, length, H, k)], "cross": [(B, 2, S, H, k)], "source_mask": (B, S)}`:
        empty self-attention caches, and each block's cross-attention keys and values of the
        encoded source, projected once."""
        memory = self.encode(source_ids)
        batch_size = ops.shape(source_ids)[0]
        return {
            "self": [block.self_attention.empty_cache(batch_size, length) for block in self.decoder_layers],
            "cross": [block.compute_cross_attention_cache(memory) for block in self.decoder_layers],
            "source_mask": ops.not_equal(source_ids, 0),
        }

    def call_with_cache(self, token_ids, cache, index):
        """Decoder tokens `(B, T)` at positions `index …`; returns `(logits (B, T, V), cache)`."""
        y = self.target_embedding(token_ids, start_index=index)
        self_caches = []
        for block, self_cache, cross_cache in zip(self.decoder_layers, cache["self"], cache["cross"]):
            y, self_cache, _ = block(
                y,
                encoder_padding_mask=cache["source_mask"],
                self_attention_cache=self_cache,
                self_attention_cache_update_index=index,
                cross_attention_cache=cross_cache,
                training=False,
            )
            self_caches.append(self_cache)
        return self.logits(y), {**cache, "self": self_caches}

    def attention_scores(self, source_ids, decoder_token_ids):
        """Every attention's weights on one teacher-forced pass (eager; outputs unchanged).

        Runs the encoder on `source_ids` `(B, S)` and the decoder on
        `decoder_token_ids` `(B, T)` (0 = padding on both sides) as the
        model's graph does at inference, and returns each block's softmax weights

            {"encoder": [(B, H, S, S)] × N,     self-attention over the source
             "decoder": [(B, H, T, T)] × N,     causal self-attention over the target
             "cross":   [(B, H, T, S)] × N}     decoder queries over the encoder's outputs

        one array per block, first block first. Row t of "cross" is the
        attention of the query that predicts target token t+1; a padded query's
        row is all zeros. The decoder is causal, so the rows of a greedy
        output `[start, y_1, …]` read back this way are the weights the
        cached decoding loop used at each step.
        """
        source_ids = ops.convert_to_tensor(source_ids, "int32")
        decoder_token_ids = ops.convert_to_tensor(decoder_token_ids, "int32")
        source_mask = ops.not_equal(source_ids, 0)
        target_mask = ops.not_equal(decoder_token_ids, 0)
        scores = {"encoder": [], "decoder": [], "cross": []}
        x = self.source_embedding(source_ids)
        for block in self.encoder_layers:
            x, weights = block(x, padding_mask=source_mask, return_attention_scores=True, training=False)
            scores["encoder"].append(weights)
        y = self.target_embedding(decoder_token_ids)
        for block in self.decoder_layers:
            y, self_weights, cross_weights = block(
                y,
                x,
                decoder_padding_mask=target_mask,
                encoder_padding_mask=source_mask,
                return_attention_scores=True,
                training=False,
            )
            scores["decoder"].append(self_weights)
            scores["cross"].append(cross_weights)
        return scores

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.dtype_policy_config(),
            "vocabulary_size": self.vocabulary_size,
            "target_vocabulary_size": self.target_vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "max_sequence_length": self.max_sequence_length,
            "dropout": self.dropout,
            "tie_embeddings": self.tie_embeddings,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }


@with_presets(PRESETS)
def transformer(
    *,
    vocabulary_size=8000,
    target_vocabulary_size=None,
    num_layers=2,
    num_heads=4,
    hidden_dim=128,
    intermediate_dim=512,
    max_sequence_length=128,
    dropout=0.1,
    tie_embeddings=True,
    layer_norm_epsilon=1e-6,
    name="transformer",
):
    """The Transformer encoder–decoder of Vaswani et al. 2017 ("Attention Is All You Need").

        x = Dropout(√d · E_src[source] + PE)            → N × TransformerEncoderBlock → memory
        y = Dropout(√d · E_tgt[target] + PE)            → N × TransformerDecoderBlock(·, memory)
        p(next target token) = softmax(y W_out)

    Post-LN blocks, sinusoidal positional encoding, ReLU feed-forward. Token
    id 0 is padding on both sides (never attended to). With one vocabulary
    (`target_vocabulary_size=None`) the source and target embeddings are one
    table, and with `tie_embeddings` the output projection is that table too
    (`W_out = Eᵀ`, §3.4). Trained with teacher forcing: the decoder reads
    the target shifted right and predicts every next token at once.

    Args:
        preset: "transformer_base" for the paper's base model; explicit
            arguments override the preset's.
        vocabulary_size: Source vocabulary (and target, when shared).
        target_vocabulary_size: A separate target vocabulary, or None to share.
        num_layers: Encoder blocks, and decoder blocks (N).
        num_heads: Attention heads (h).
        hidden_dim: Model width (d_model).
        intermediate_dim: Feed-forward width (d_ff).
        max_sequence_length: Longest source or target sequence.
        dropout: Rate for embeddings, residuals and attention (P_drop).
        tie_embeddings: Use the target embedding as the output projection.
        layer_norm_epsilon: Epsilon of the layer normalisations.
        name: Model name.

    Returns:
        A `TransformerSeq2Seq`: `encoder_token_ids`, `decoder_token_ids` →
        `probabilities` of shape `(B, T_target, target vocabulary)`, with `.generate(...)`.
    """

    return TransformerSeq2Seq(
        vocabulary_size=vocabulary_size,
        target_vocabulary_size=target_vocabulary_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        max_sequence_length=max_sequence_length,
        dropout=dropout,
        tie_embeddings=tie_embeddings,
        layer_norm_epsilon=layer_norm_epsilon,
        name=name,
    )
