import keras

from kerasnets.layers.transformer_encoder_block import _TransformerBlock, residual


@keras.saving.register_keras_serializable(package="kerasnets")
class TransformerDecoderBlock(_TransformerBlock):
    """One Transformer decoder layer (Vaswani et al. 2017, §3.1).

        x = LayerNorm(x + Dropout(MaskedSelfAttention(x)))
        x = LayerNorm(x + Dropout(CrossAttention(x, encoder_outputs)))   # if an encoder is given
        x = LayerNorm(x + Dropout(FFN(x)))

    Self-attention is causal by default: position t sees positions ≤ t only,
    so a later token never changes an earlier output. Called without
    `encoder_sequence` the block has no cross-attention: the decoder-only
    block of GPT (use `normalize_first=True` for GPT-2's pre-LN).

    Args:
        Same as `TransformerEncoderBlock`.

    Call arguments:
        decoder_sequence: `(B, T, hidden_dim)`.
        encoder_sequence: Optional `(B, S, hidden_dim)` encoder outputs.
        decoder_padding_mask: Optional boolean `(B, T)`.
        decoder_attention_mask: Optional boolean `(B, T, T)`.
        encoder_padding_mask: Optional boolean `(B, S)`.
        encoder_attention_mask: Optional boolean `(B, T, S)`.
        use_causal_mask: Mask future positions in self-attention (default True).
        return_attention_scores: Also return the self-attention weights and,
            with an encoder, the cross-attention weights.
        training: Whether dropout is active.
        decoder_sequence_mask, encoder_sequence_mask, mask: Filled in by Keras
            from the inputs' Keras masks; used when the explicit padding masks
            are not given.

    Example:

    >>> block = TransformerDecoderBlock(intermediate_dim=128, num_heads=4)
    >>> y = keras.ops.ones((2, 7, 64)); x = keras.ops.ones((2, 9, 64))
    >>> block(y, x).shape
    (2, 7, 64)
    """

    def __init__(self, intermediate_dim, num_heads, **kwargs):
        super().__init__(intermediate_dim, num_heads, **kwargs)
        self.self_attention = self._attention("self_attention")
        self.self_attention_norm = self._layer_norm("self_attention_norm")
        # Built only when the block is first called with an encoder sequence.
        self.cross_attention = self._attention("cross_attention")
        self.cross_attention_norm = self._layer_norm("cross_attention_norm")

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        self._build_attention(self.self_attention, decoder_sequence_shape, decoder_sequence_shape)
        self.self_attention_norm.build(decoder_sequence_shape)
        if encoder_sequence_shape is not None:
            self._build_attention(self.cross_attention, decoder_sequence_shape, encoder_sequence_shape)
            self.cross_attention_norm.build(decoder_sequence_shape)
        self._build_feed_forward(decoder_sequence_shape)
        self.built = True

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        decoder_attention_mask=None,
        encoder_padding_mask=None,
        encoder_attention_mask=None,
        use_causal_mask=True,
        return_attention_scores=False,
        training=None,
        decoder_sequence_mask=None,
        encoder_sequence_mask=None,
        mask=None,
    ):
        if decoder_padding_mask is None:
            decoder_padding_mask = decoder_sequence_mask if decoder_sequence_mask is not None else mask
        if encoder_padding_mask is None:
            encoder_padding_mask = encoder_sequence_mask
        if encoder_sequence is not None and not self.cross_attention.built:
            raise ValueError(f"{self.name} was built without an encoder sequence; it has no cross-attention.")
        scores = []

        def attend(attention, value, value_mask, attention_mask, causal):
            def sublayer(x):
                output, weights = attention(
                    x,
                    x if value is None else value,
                    query_mask=decoder_padding_mask,  # explicit, so Keras masks on `x` cannot add one
                    value_mask=value_mask,
                    attention_mask=attention_mask,
                    use_causal_mask=causal,
                    return_attention_scores=True,
                    training=training,
                )
                scores.append(weights)
                return output

            return sublayer

        x = residual(
            decoder_sequence,
            attend(self.self_attention, None, decoder_padding_mask, decoder_attention_mask, use_causal_mask),
            self.self_attention_norm,
            self.dropout_layer,
            self.normalize_first,
            training,
        )
        if encoder_sequence is not None:
            x = residual(
                x,
                attend(self.cross_attention, encoder_sequence, encoder_padding_mask, encoder_attention_mask, False),
                self.cross_attention_norm,
                self.dropout_layer,
                self.normalize_first,
                training,
            )
        x = self._feed_forward(x, training)
        return (x, *scores) if return_attention_scores else x

    def compute_mask(self, decoder_sequence, previous_mask=None):
        # Keras hands us the first input's mask; the output keeps it.
        return previous_mask
