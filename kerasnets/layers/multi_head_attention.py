import numbers

import keras
import numpy as np
from keras import ops

from kerasnets.layers.arguments import positive_int
from kerasnets.layers.initializers import clone_initializer
from kerasnets.layers.scaled_dot_product_attention import ScaledDotProductAttention
from kerasnets.ops import causal_mask, large_negative, masked_softmax, update_along_axis, write_along_axis


@keras.saving.register_keras_serializable(package="kerasnets")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention (Vaswani et al. 2017, §3.2.2).

        head_h = Attention(Q W_h^Q, K W_h^K, V W_h^V)       for h = 1 … H
        MultiHead(Q, K, V) = Concat(head_1, …, head_H) W^O

    where `Attention` is `softmax(Q Kᵀ / √d_k) V` (`ScaledDotProductAttention`).

    A drop-in for `keras.layers.MultiHeadAttention`: the same constructor and
    call arguments, the same weights in the same order and shapes
    (`query/key/value` kernels `(d_in, H, key_dim)` with biases `(H, key_dim)`,
    output kernel `(H, value_dim, d_out)` with bias `(d_out,)`), so
    `ours.set_weights(theirs.get_weights())` reproduces its outputs.
    Keras masks on `query`, `value` and `key` (e.g. from
    `Embedding(mask_zero=True)`) are honoured and the query's mask is passed on.

    One difference: a query position that may attend to no key at all (a
    padded query) outputs the output bias alone, where the Keras layer
    outputs a uniform average of the values.

    Key/value cache (for autoregressive decoding, as KerasHub's
    `CachedMultiHeadAttention`): `cache` has shape `(B, 2, S_max, H, key_dim)`,
    `cache[:, 0]` the projected keys `K W^K` and `cache[:, 1]` the projected
    values `V W^V` of every position decoded so far (so it needs
    `value_dim == key_dim`).

    * With `cache_update_index=i`, the keys and values of the `T` new
      positions in `key`/`value` are written into the cache at positions
      `i … i+T-1`, and the queries attend over all `S_max` cached positions;
      `use_causal_mask` then means query t (position `i + t`) sees cache
      positions `≤ i + t`, which also hides the cache's unwritten tail. One
      decoding step is `T = 1`; prefilling a prompt is `i = 0, T = len`.
      `value_mask`/`key_mask` describe the `T` new positions; cache
      positions written earlier count as real tokens.
    * With `cache_update_index=None`, the cache is used as it is, keys and
      values precomputed (`compute_key_value_cache`), e.g. a decoder's
      cross-attention over a fixed encoder output; `value` may then be None
      and `value_mask`/`key_mask` cover the `S_max` cached positions.

    A call with a cache returns `(outputs, new_cache)` (or `(outputs,
    scores, new_cache)`); without one the layer computes exactly what it
    does otherwise. Cached calls are for eager or `tf.function` decoding
    loops, not for building Functional graphs.

    Every kernel (and a random bias initializer) is drawn from its own copy of
    the initializer: W^Q, W^K, W^V and W^O start independent even when one
    unseeded initializer object is passed (`layers.initializers`).

    Args:
        num_heads: Number of heads H (a positive int).
        key_dim: Size of each head for query and key (a positive int).
        value_dim: Size of each head for value; defaults to `key_dim`.
        dropout: Dropout rate on the attention weights.
        use_bias: Whether the projections have biases.
        output_shape: Last dimension of the output (a positive int or a
            1-tuple); defaults to the query's last dimension.
        attention_axes: Only `None` (attend over the sequence axis) is supported.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: as for `Dense`.
        seed: Seed for the dropout.

    Call arguments:
        query: `(B, T_q, d_q)`.
        value: `(B, T_k, d_v)`.
        key: `(B, T_k, d_k)` (as many positions as `value`); defaults to `value`.
        query_mask, value_mask, key_mask: Optional boolean `(B, T)` padding
            masks (filled in from Keras masks automatically).
        attention_mask: Optional boolean `(T_q, T_k)`, `(B, T_q, T_k)` or
            `(B, H, T_q, T_k)` (broadcast over what is missing, as Keras
            does); True = may attend.
        return_attention_scores: Also return the weights `(B, H, T_q, T_k)`
            (on symbolic inputs too, so a Functional model can use both).
        training: Whether dropout is active.
        use_causal_mask: Forbid attending to later positions.
        cache: Optional key/value cache `(B, 2, S_max, H, key_dim)`, see above.
        cache_update_index: Position (int or scalar tensor) where the new
            keys and values go into `cache`; None reuses `cache` as it is.

    Example:

    >>> mha = MultiHeadAttention(num_heads=4, key_dim=8)
    >>> x = keras.random.normal((2, 10, 32))
    >>> mha(x, x, use_causal_mask=True).shape
    (2, 10, 32)
    >>> cache = mha.empty_cache(batch_size=2, length=10)
    >>> out, cache = mha(x[:, :1], x[:, :1], use_causal_mask=True, cache=cache, cache_update_index=0)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if attention_axes is not None:
            raise ValueError(
                "kerasnets MultiHeadAttention attends over the sequence axis only; "
                f"attention_axes must be None, got {attention_axes}."
            )
        if isinstance(output_shape, (tuple, list)):
            if len(output_shape) != 1:
                raise ValueError(
                    "Invalid `output_shape`: kerasnets MultiHeadAttention takes an int or a 1-tuple, "
                    f"got {output_shape}."
                )
            output_shape = output_shape[0]
        if output_shape is not None and (
            isinstance(output_shape, bool) or not isinstance(output_shape, numbers.Integral) or output_shape <= 0
        ):
            raise ValueError(f"Invalid `output_shape`: expected a positive int or a 1-tuple, got {output_shape!r}.")
        self.num_heads = positive_int(num_heads, "num_heads")
        self.key_dim = positive_int(key_dim, "key_dim")
        value_dim = positive_int(value_dim, "value_dim", allow_none=True)
        self.value_dim = value_dim if value_dim is not None else self.key_dim
        output_shape = None if output_shape is None else int(output_shape)
        self.dropout = dropout
        self.use_bias = use_bias
        self.output_dim = output_shape
        self.seed = seed
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.supports_masking = True
        self._attention = ScaledDotProductAttention(
            dropout=dropout, seed=seed, dtype=self.dtype_policy, name="attention"
        )

    def _kernel(self, name, shape):
        return self.add_weight(
            name=name,
            shape=shape,
            # A copy each, so W_Q, W_K, W_V and W_O are drawn apart.
            initializer=clone_initializer(self.kernel_initializer, f"{self.name}/{name}"),
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def _bias(self, name, shape):
        if not self.use_bias:
            return None
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=clone_initializer(self.bias_initializer, f"{self.name}/{name}"),
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def _check_shapes(self, query_shape, value_shape, key_shape):
        """Ranks and lengths that can attend to one another; returns `key_shape` (defaults to `value_shape`)."""
        key_shape = value_shape if key_shape is None else key_shape
        for name, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ValueError(
                    f"{self.name}: `{name}` must have rank 3 (batch, sequence, features) "
                    f"(attention_axes is always the sequence axis). Received: {name}.shape={tuple(shape)}"
                )
        if None not in (value_shape[1], key_shape[1]) and value_shape[1] != key_shape[1]:
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, must be equal "
                "(one key per value). "
                f"Received: value_shape={tuple(value_shape)} and key_shape={tuple(key_shape)}"
            )
        return key_shape

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            raise ValueError(f"{self.name}: the first call needs a `value` (the weights' shapes depend on it).")
        key_shape = self._check_shapes(query_shape, value_shape, key_shape)
        heads = self.num_heads
        output_dim = self.output_dim or query_shape[-1]
        # Created in the order keras.layers.MultiHeadAttention creates them.
        self.query_kernel = self._kernel("query_kernel", (query_shape[-1], heads, self.key_dim))
        self.query_bias = self._bias("query_bias", (heads, self.key_dim))
        self.key_kernel = self._kernel("key_kernel", (key_shape[-1], heads, self.key_dim))
        self.key_bias = self._bias("key_bias", (heads, self.key_dim))
        self.value_kernel = self._kernel("value_kernel", (value_shape[-1], heads, self.value_dim))
        self.value_bias = self._bias("value_bias", (heads, self.value_dim))
        self.output_kernel = self._kernel("output_kernel", (heads, self.value_dim, output_dim))
        self.output_bias = self._bias("output_bias", (output_dim,))
        self._attention.build(
            (None, heads, query_shape[1], self.key_dim),
            (None, heads, key_shape[1], self.key_dim),
            (None, heads, value_shape[1], self.value_dim),
        )
        self.built = True

    def _project(self, x, kernel, bias):
        # (B, T, d) x (d, H, k) -> (B, H, T, k): one head per slice of axis 1.
        projected = ops.einsum("btd,dhk->bhtk", x, kernel)
        if bias is not None:
            projected = projected + ops.expand_dims(bias, 1)
        return projected

    def compute_key_value_cache(self, value, key=None):
        """The projected keys and values of a sequence, stacked as a cache.

            cache[:, 0] = key W^K + b^K,   cache[:, 1] = value W^V + b^V

        each split into heads: shape `(B, 2, T, H, key_dim)`, the layout of
        the `cache` call argument. `key` defaults to `value`. Computed once
        for a fixed sequence (an encoder output), it lets every decoding step
        skip the projection (`cache=…, cache_update_index=None`).
        """
        self._check_cacheable()
        key = value if key is None else key
        dtype = self.compute_dtype  # may be called outside __call__'s autocast

        def project(x, kernel, bias):
            # (B, T, d) x (d, H, k) -> (B, T, H, k), the cache's layout.
            projected = ops.einsum("btd,dhk->bthk", ops.cast(x, dtype), ops.cast(kernel, dtype))
            return projected if bias is None else projected + ops.cast(bias, dtype)

        keys = project(key, self.key_kernel, self.key_bias)
        values = project(value, self.value_kernel, self.value_bias)
        return ops.stack([keys, values], axis=1)

    def empty_cache(self, batch_size, length):
        """A zero cache `(batch_size, 2, length, num_heads, key_dim)` to decode into."""
        self._check_cacheable()
        return ops.zeros((batch_size, 2, length, self.num_heads, self.key_dim), dtype=self.compute_dtype)

    def _check_cacheable(self):
        if self.key_dim != self.value_dim:
            raise ValueError(
                f"{self.name}: a key/value cache needs value_dim == key_dim, "
                f"got key_dim={self.key_dim}, value_dim={self.value_dim}."
            )

    def call(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
    ):
        if cache is not None:
            return self._call_with_cache(
                query,
                value,
                key,
                query_mask,
                value_mask,
                key_mask,
                attention_mask,
                return_attention_scores,
                training,
                use_causal_mask,
                cache,
                cache_update_index,
            )
        if value is None:
            raise ValueError(f"{self.name}: `value` is required unless a precomputed `cache` is given.")
        self._check_shapes(query.shape, value.shape, None if key is None else key.shape)
        if key is None:
            key = value
            key_mask = None  # the value's mask already covers the keys
        mask = self._combined_mask(
            ops.shape(query)[1],
            ops.shape(value)[1],
            query_mask,
            (value_mask, key_mask),
            attention_mask,
            use_causal_mask,
        )
        q = self._project(query, self.query_kernel, self.query_bias)
        k = self._project(key, self.key_kernel, self.key_bias)
        v = self._project(value, self.value_kernel, self.value_bias)
        outputs, weights = self._attend(q, k, v, mask, training)
        if return_attention_scores:
            return outputs, weights
        return outputs

    def _call_with_cache(
        self,
        query,
        value,
        key,
        query_mask,
        value_mask,
        key_mask,
        attention_mask,
        return_attention_scores,
        training,
        use_causal_mask,
        cache,
        cache_update_index,
    ):
        self._check_cacheable()
        if key is None:
            key_mask = None  # the value's mask already covers the keys
        paddings = [ops.cast(padding, "bool") for padding in (value_mask, key_mask) if padding is not None]
        key_padding = ops.logical_and(*paddings) if len(paddings) == 2 else (paddings or [None])[0]
        one_position = query.shape[1] == 1
        if cache_update_index is None:
            query_start = 0  # precomputed keys and values: the padding covers the cache
        else:
            if value is None:
                raise ValueError(f"{self.name}: `value` is required to update the cache.")
            if value.shape[1] == 1:  # a decoding step: write in place (the index is inside the cache)
                new = ops.stack(
                    [
                        self._project_position(key if key is not None else value, self.key_kernel, self.key_bias),
                        self._project_position(value, self.value_kernel, self.value_bias),
                    ],
                    axis=1,
                )
                new = ops.reshape(new, (-1, 2, 1, self.num_heads, self.key_dim))
                cache = write_along_axis(cache, new, cache_update_index, axis=2)
            else:
                cache = update_along_axis(cache, self.compute_key_value_cache(value, key), cache_update_index, axis=2)
            if key_padding is not None:
                # Only the new positions have a padding mask; earlier ones are real tokens.
                everything = ops.ones(ops.shape(cache)[:1] + ops.shape(cache)[2:3], dtype="bool")
                key_padding = update_along_axis(everything, key_padding, cache_update_index, axis=1)
            query_start = cache_update_index
        length = ops.shape(cache)[2]
        if one_position and use_causal_mask and cache_update_index is not None and (
            query_mask is None and key_padding is None and attention_mask is None
        ):
            # The usual decoding step: positions ≤ query_start of the key rows (and never a value row).
            outputs, weights = self._attend_cache_one_query(query, cache, None, training, last_position=query_start)
        else:
            mask = self._combined_mask(
                ops.shape(query)[1], length, query_mask, (key_padding,), attention_mask, use_causal_mask, query_start
            )
            if one_position:
                outputs, weights = self._attend_cache_one_query(query, cache, mask, training)
            else:
                q = self._project(query, self.query_kernel, self.query_bias)
                k = ops.transpose(cache[:, 0], (0, 2, 1, 3))  # (B, S_max, H, k) -> (B, H, S_max, k)
                v = ops.transpose(cache[:, 1], (0, 2, 1, 3))
                outputs, weights = self._attend(q, k, v, mask, training)
        if return_attention_scores:
            return outputs, weights, cache
        return outputs, cache

    def _project_position(self, x, kernel, bias):
        """One position `(B, 1, d)` through `(d, H, k)` as a plain matrix product: `(B, H·k)`."""
        x = ops.reshape(x, (-1, x.shape[-1]))
        projected = ops.matmul(x, ops.reshape(kernel, (kernel.shape[0], -1)))
        return projected if bias is None else projected + ops.reshape(bias, (-1,))

    def _attend_cache_one_query(self, query, cache, mask, training, last_position=None):
        """One query position `(B, 1, d)` against a whole cache `(B, 2, S, H, k)`, read in place.

        With the cache seen as `C` `(B, 2S, H·k)` (rows s < S keys, rows S + s
        values, one head per block of k columns) and `Q` `(B, H, H·k)` holding
        head h's query, scaled by 1/√k, in block h of row h and zeros elsewhere:

            scores  = Q Cᵀ                    (B, H, 2S): row h, column s < S is head h's q·k_s/√k
            weights = masked_softmax(scores)  over the key rows `mask` allows (all, or s ≤ last_position)
            heads   = Σ_h (roll(weights, S) C)[:, h] ⊙ block_h     (B, H·k): the heads, concatenated
            outputs = heads W^O + b^O

        The same attention as `_attend`, without transposing (copying) the
        whole cache at every step; one decoding step is bound by memory
        traffic and op count, not by the H-fold redundant multiply-adds.
        """
        heads, key_dim = self.num_heads, self.key_dim
        width = heads * key_dim
        dtype = self.compute_dtype
        length = ops.shape(cache)[2]
        blocks = np.kron(np.eye(heads), np.ones((1, key_dim)))  # (H, H·k): block h of row h is 1
        q = self._project_position(query, self.query_kernel, self.query_bias)
        q = ops.expand_dims(q, 1) * ops.convert_to_tensor(blocks / np.sqrt(key_dim), dtype=dtype)  # (B, H, H·k)
        flat = ops.reshape(cache, (ops.shape(cache)[0], -1, width))
        scores = ops.matmul(q, ops.swapaxes(flat, 1, 2))  # a transposed operand, not a copy
        if mask is None:
            # Key rows only (≤ last_position when decoding causally): no row is ever empty.
            rows = ops.arange(2 * length)
            allowed = rows < length if last_position is None else rows <= ops.cast(last_position, "int32")
            weights = ops.softmax(ops.where(allowed, scores, ops.cast(large_negative(scores.dtype), scores.dtype)))
        else:
            mask = mask[:, :, 0, :]  # (B or 1, H or 1, S)
            weights = masked_softmax(scores, ops.concatenate([mask, ops.zeros_like(mask)], axis=-1), axis=-1)
        dropped = self._attention._dropout_layer(weights, training=training)
        mixed = ops.matmul(ops.roll(dropped, length, axis=-1), flat)  # (B, H, H·k)
        outputs = ops.sum(mixed * ops.convert_to_tensor(blocks, dtype=dtype), axis=1)
        outputs = ops.matmul(outputs, ops.reshape(self.output_kernel, (width, -1)))
        if self.output_bias is not None:
            outputs = outputs + self.output_bias
        return ops.expand_dims(outputs, 1), ops.expand_dims(weights[:, :, :length], 2)

    def _attend(self, q, k, v, mask, training):
        """Attention of the projected heads `(B, H, T, k)`, then the output projection."""
        heads, weights = self._attention(q, k, v, mask=mask, return_attention_scores=True, training=training)
        outputs = ops.einsum("bhtv,hvo->bto", heads, self.output_kernel)
        if self.output_bias is not None:
            outputs = outputs + self.output_bias
        return outputs, weights

    def _combined_mask(
        self, query_length, key_length, query_mask, key_paddings, attention_mask, use_causal_mask, query_start=0
    ):
        """AND of every mask given, as a boolean `(B or 1, H or 1, T_q, T_k)` tensor, or None."""
        parts = []
        if query_mask is not None:
            parts.append(ops.expand_dims(ops.expand_dims(ops.cast(query_mask, "bool"), 1), -1))  # (B, 1, T_q, 1)
        for padding in key_paddings:
            if padding is not None:
                parts.append(ops.expand_dims(ops.cast(padding, "bool"), (1, 2)))  # (B, 1, 1, T_k)
        if use_causal_mask:
            parts.append(ops.expand_dims(causal_mask(query_length, key_length, query_start), 1))
        if attention_mask is not None:
            parts.append(self._attention_mask_4d(attention_mask))
        if not parts:
            return None
        mask = parts[0]
        for part in parts[1:]:
            mask = ops.logical_and(mask, part)
        return mask

    def _attention_mask_4d(self, attention_mask):
        """`(T_q, T_k)`, `(B, T_q, T_k)` or `(B, H, T_q, T_k)` as a broadcastable 4-D boolean mask."""
        rank = len(attention_mask.shape)
        if rank not in (2, 3, 4):
            raise ValueError(
                f"{self.name}: attention_mask must have shape (T_q, T_k), (B, T_q, T_k) or "
                f"(B, num_heads, T_q, T_k). Received: attention_mask.shape={tuple(attention_mask.shape)}"
            )
        if rank == 4 and attention_mask.shape[1] not in (None, 1, self.num_heads):
            raise ValueError(
                f"{self.name}: a 4-D attention_mask needs axis 1 of size num_heads={self.num_heads} (or 1). "
                f"Received: attention_mask.shape={tuple(attention_mask.shape)}"
            )
        attention_mask = ops.cast(attention_mask, "bool")
        for _ in range(4 - rank):
            attention_mask = ops.expand_dims(attention_mask, 0 if rank == 2 else 1)
        return attention_mask

    def compute_mask(self, query, previous_mask=None):
        return previous_mask  # the query's padding mask, passed on unchanged

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None, return_attention_scores=False):
        """`(B, T_q, d_out)`, and with `return_attention_scores` also the weights' `(B, H, T_q, T_k)`."""
        if value_shape is None:
            raise ValueError(f"{self.name}: `value_shape` is required.")
        key_shape = self._check_shapes(query_shape, value_shape, key_shape)
        output_shape = tuple(query_shape[:-1]) + (self.output_dim or query_shape[-1],)
        if not return_attention_scores:
            return output_shape
        return output_shape, (query_shape[0], self.num_heads, query_shape[1], key_shape[1])

    def compute_output_spec(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
    ):
        def spec(shape):
            return keras.KerasTensor(shape, dtype=self.compute_dtype)

        output_shape = tuple(query.shape[:-1]) + (self.output_dim or query.shape[-1],)
        if cache is None:
            if value is None:
                raise ValueError(f"{self.name}: `value` is required unless a precomputed `cache` is given.")
            shapes = self.compute_output_shape(
                query.shape, value.shape, None if key is None else key.shape, return_attention_scores=True
            )
            return (spec(shapes[0]), spec(shapes[1])) if return_attention_scores else spec(shapes[0])
        outputs = (spec(output_shape),)
        if return_attention_scores:
            outputs += (spec((query.shape[0], self.num_heads, query.shape[1], cache.shape[2])),)
        return outputs + (keras.KerasTensor(cache.shape, dtype=cache.dtype),)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_shape": self.output_dim,
                "attention_axes": None,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "seed": self.seed,
            }
        )
        return config
