import keras

from kerasnets.layers.transformer_encoder_block import _TransformerBlock, residual
from kerasnets.ops import layer_norm


@keras.saving.register_keras_serializable(package="kerasnets")
class TransformerDecoderBlock(_TransformerBlock):
    """One Transformer decoder layer (Vaswani et al. 2017, §3.1).

        x = LayerNorm(x + Dropout(MaskedSelfAttention(x)))
        x = LayerNorm(x + Dropout(CrossAttention(x, encoder_outputs)))   # if an encoder is given
        x = LayerNorm(x + Dropout(FFN(x)))

    Self-attention is causal by default: position t sees positions ≤ t only,
    so a later token never changes an earlier output. Built (first called)
    without `encoder_sequence` the block has no cross-attention: the
    decoder-only block of GPT (use `normalize_first=True` for GPT-2's
    pre-LN). The first call fixes which kind it is: a block built with an
    encoder sequence needs one (or a cross-attention cache) at every call,
    and one built without rejects it (ValueError either way).

    Decoding with caches (KerasHub's convention): pass
    `self_attention_cache` `(B, 2, S_max, H, head_dim)` and
    `self_attention_cache_update_index` i, and the keys and values of the
    `T` new positions (usually one) are written at `i … i+T-1` while the
    queries attend, causally, over the whole cache. For cross-attention,
    `compute_cross_attention_cache(encoder_sequence)` projects the encoder
    output once; pass it as `cross_attention_cache` (without an update
    index, and `encoder_sequence` may then be None) and no step re-projects
    it. Every cache passed in comes back, updated, after the output:
    `(outputs, [self_scores, cross_scores,] self_attention_cache[, cross_attention_cache])`.
    Without caches the block behaves exactly as before.

    Args:
        Same as `TransformerEncoderBlock`.

    Call arguments:
        decoder_sequence: `(B, T, hidden_dim)`.
        encoder_sequence: Optional `(B, S, hidden_dim)` encoder outputs.
        decoder_padding_mask: Optional boolean `(B, T)`.
        decoder_attention_mask: Optional boolean `(B, T, T)`.
        encoder_padding_mask: Optional boolean `(B, S)`.
        encoder_attention_mask: Optional boolean `(B, T, S)`.
        self_attention_cache: Optional `(B, 2, S_max, H, head_dim)` keys and
            values of the positions decoded so far.
        self_attention_cache_update_index: Position of the first new token
            in the cache (int or scalar tensor).
        cross_attention_cache: Optional `(B, 2, S, H, head_dim)` projected
            encoder keys and values (`compute_cross_attention_cache`).
        cross_attention_cache_update_index: Write the projections of
            `encoder_sequence` into `cross_attention_cache` at this position
            instead of reusing it as it is (rarely needed).
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
    >>> cross = block.compute_cross_attention_cache(x)                     # (2, 2, 9, 4, 16)
    >>> cache = block.self_attention.empty_cache(batch_size=2, length=7)
    >>> step, cache, cross = block(y[:, :1], self_attention_cache=cache,
    ...                            self_attention_cache_update_index=0, cross_attention_cache=cross)
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

    def compute_cross_attention_cache(self, encoder_sequence):
        """The cross-attention keys and values of `encoder_sequence`, `(B, 2, S, H, head_dim)`,
        computed once and passed as `cross_attention_cache` at every decoding step."""
        if not self.cross_attention.built:
            raise ValueError(f"{self.name} was built without an encoder sequence; it has no cross-attention.")
        return self.cross_attention.compute_key_value_cache(encoder_sequence)

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        decoder_attention_mask=None,
        encoder_padding_mask=None,
        encoder_attention_mask=None,
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        cross_attention_cache=None,
        cross_attention_cache_update_index=None,
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
        has_cross_attention = encoder_sequence is not None or cross_attention_cache is not None
        if has_cross_attention and not self.cross_attention.built:
            raise ValueError(f"{self.name} was built without an encoder sequence; it has no cross-attention.")
        if self.cross_attention.built and not has_cross_attention:
            # Skipping the sub-layer would silently compute a different function.
            raise ValueError(
                f"{self.name} was built with cross-attention: call it with `encoder_sequence` "
                "(or a `cross_attention_cache` from `compute_cross_attention_cache`)."
            )
        if self_attention_cache is not None and self_attention_cache_update_index is None:
            raise ValueError(f"{self.name}: self_attention_cache needs self_attention_cache_update_index.")
        scores = []
        caches = []

        def norm(layer):
            if self_attention_cache is None:
                return layer
            return lambda x: layer_norm(x, layer)  # decoding: the same normalisation in fewer ops

        def attend(attention, is_self_attention, value, value_mask, attention_mask, causal, cache, cache_index):
            def sublayer(x):
                results = attention(
                    x,
                    x if is_self_attention else value,
                    query_mask=decoder_padding_mask,  # explicit, so Keras masks on `x` cannot add one
                    value_mask=value_mask,
                    attention_mask=attention_mask,
                    use_causal_mask=causal,
                    return_attention_scores=True,
                    training=training,
                    cache=cache,
                    cache_update_index=cache_index,
                )
                scores.append(results[1])
                if cache is not None:
                    caches.append(results[2])
                return results[0]

            return sublayer

        x = residual(
            decoder_sequence,
            attend(
                self.self_attention,
                True,
                None,
                decoder_padding_mask,
                decoder_attention_mask,
                use_causal_mask,
                self_attention_cache,
                self_attention_cache_update_index,
            ),
            norm(self.self_attention_norm),
            self.dropout_layer,
            self.normalize_first,
            training,
        )
        if has_cross_attention:
            x = residual(
                x,
                attend(
                    self.cross_attention,
                    False,
                    encoder_sequence,
                    encoder_padding_mask,
                    encoder_attention_mask,
                    False,
                    cross_attention_cache,
                    cross_attention_cache_update_index,
                ),
                norm(self.cross_attention_norm),
                self.dropout_layer,
                self.normalize_first,
                training,
            )
        x = residual(
            x, self.feed_forward, norm(self.feed_forward_norm), self.dropout_layer, self.normalize_first, training
        )
        outputs = (x, *scores) if return_attention_scores else (x,)
        outputs += tuple(caches)
        return outputs if len(outputs) > 1 else x

    def compute_mask(self, decoder_sequence, previous_mask=None):
        # Keras hands us the first input's mask; the output keeps it.
        return previous_mask
