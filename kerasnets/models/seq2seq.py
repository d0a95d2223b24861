import keras
from keras import ops

from kerasnets.layers.bahdanau_attention import BahdanauAttention
from kerasnets.layers.luong_attention import LuongAttention
from kerasnets.models.rnn_classifier import CELLS, recurrent_layer
from kerasnets.models.seq2seq_lm import Seq2SeqLM

ATTENTIONS = ("bahdanau", "luong", None)


@keras.saving.register_keras_serializable(package="kerasnets")
class RNNSeq2Seq(Seq2SeqLM):
    """An RNN encoder–decoder (Sutskever et al. 2014; Cho et al. 2014) with
    optional attention (Bahdanau et al. 2015; Luong et al. 2015).

        encoder:   s_1 … s_S, state = RNN_enc(E_src[source])
        decoder:   h_1 … h_T = RNN_dec(E_tgt[decoder inputs]), started from the encoder's final state
        attention: c_t = Attention(h_t, s_1 … s_S)              (padded source steps get zero weight)
                   h̃_t = tanh([c_t; h_t] W_c + b_c)             (attentional hidden state, Luong style)
        output:    logits_t = Dropout(h̃_t) W + b;   p(y_t | y_<t, source) = softmax(logits_t)

    Trained with teacher forcing: `decoder_token_ids` is the target sequence
    shifted right behind a start token, e.g. `[BOS, y_1, …, y_n]`, and the
    labels are `[y_1, …, y_n, EOS]`. Id 0 is padding in both languages: padded
    source steps are skipped by the encoder and ignored by the attention, so
    source padding never changes the output; the decoder's padding mask is
    carried to `probabilities`, so Keras leaves padded target positions out of
    the loss. The decoder runs only forward, so the output at step t never
    depends on a later decoder token. Without attention, h̃_t is h_t.

    Decoding encodes the source once; the cache holds the decoder cell's
    states (started from the encoder's final state), the encoder outputs and
    the source padding mask, and each step is one decoder cell step.

    Args:
        source_vocabulary_size: Number of source token ids (0 = padding).
        target_vocabulary_size: Number of target token ids (0 = padding).
        embedding_dim: Width of the token vectors (both languages).
        units: Size of the encoder and decoder states (and of the attention).
        cell: "lstm", "gru" or "simple_rnn".
        attention: "bahdanau" (additive), "luong" (multiplicative, "general"
            score) or None.
        dropout: Dropout on the inputs of both recurrent layers and before
            the output layer.

    Attributes:
        source_embedding, encoder, target_embedding, decoder,
        attention_layer, concatenate and attentional_hidden (None without attention),
        output_dropout, output_layer (logits), probabilities.
    """

    def __init__(
        self,
        source_vocabulary_size=5000,
        target_vocabulary_size=5000,
        embedding_dim=128,
        units=256,
        cell="lstm",
        attention="bahdanau",
        dropout=0.0,
        **kwargs,
    ):
        if attention not in ATTENTIONS:
            raise ValueError(f"Unknown attention '{attention}'. Valid attentions: bahdanau, luong, None.")
        if cell not in CELLS:
            raise ValueError(f"Unknown cell '{cell}'. Valid cells: {', '.join(CELLS)}.")
        self.source_embedding = keras.layers.Embedding(
            source_vocabulary_size, embedding_dim, mask_zero=True, name="encoder_embedding"
        )
        self.encoder = recurrent_layer(
            cell, units, return_sequences=True, return_state=True, dropout=dropout, name="encoder"
        )
        self.target_embedding = keras.layers.Embedding(
            target_vocabulary_size, embedding_dim, mask_zero=True, name="decoder_embedding"
        )
        self.decoder = recurrent_layer(cell, units, return_sequences=True, dropout=dropout, name="decoder")
        if attention == "bahdanau":
            self.attention_layer = BahdanauAttention(units, name="attention")
        elif attention == "luong":
            self.attention_layer = LuongAttention(score="general", name="attention")
        else:
            self.attention_layer = None
        self.concatenate = self.attentional_hidden = None
        if self.attention_layer is not None:
            self.concatenate = keras.layers.Concatenate(name="concatenate")
            self.attentional_hidden = keras.layers.Dense(units, activation="tanh", name="attentional_hidden")
        self.output_dropout = keras.layers.Dropout(dropout, name="dropout")
        self.output_layer = keras.layers.Dense(target_vocabulary_size, name="logits")
        self.probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")

        encoder_token_ids = keras.Input(shape=(None,), dtype="int32", name="encoder_token_ids")
        decoder_token_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_token_ids")
        # Explicit padding masks: Keras does not fill in `mask` for the decoder,
        # which is also given `initial_state` (and keras.layers.GRU would then ignore it).
        encoder_mask = ops.not_equal(encoder_token_ids, 0)
        decoder_mask = ops.not_equal(decoder_token_ids, 0)
        encoder_outputs, *encoder_states = self.encoder(self.source_embedding(encoder_token_ids), mask=encoder_mask)
        x = self.decoder(self.target_embedding(decoder_token_ids), initial_state=encoder_states, mask=decoder_mask)
        if self.attention_layer is not None:
            context = self.attention_layer(x, encoder_outputs, mask=encoder_mask)
            x = self.attentional_hidden(self.concatenate([context, x]))
        outputs = self.probabilities(self.output_layer(self.output_dropout(x)))
        kwargs.setdefault("name", "seq2seq")
        super().__init__(
            inputs={"encoder_token_ids": encoder_token_ids, "decoder_token_ids": decoder_token_ids},
            outputs=outputs,
            **kwargs,
        )

        self.source_vocabulary_size = source_vocabulary_size
        self.target_vocabulary_size = target_vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.cell = cell
        self.attention = attention
        self.dropout = dropout

    def build_cache(self, source_ids, length):
        """`{"states": decoder states, "encoder_outputs": (B, S, units), "source_mask": (B, S)}`."""
        source_mask = ops.not_equal(source_ids, 0)
        encoder_outputs, *states = self.encoder(self.source_embedding(source_ids), mask=source_mask, training=False)
        return {"states": list(states), "encoder_outputs": encoder_outputs, "source_mask": source_mask}

    def call_with_cache(self, token_ids, cache, index):
        """Decoder tokens `(B, T)` (T known, usually 1), one cell step each from the cached
        states; returns `(logits (B, T, V), cache)`. `index` is unused: the state carries it."""
        steps = token_ids.shape[1]
        if steps is None:
            raise ValueError("call_with_cache of a recurrent model needs a known number of steps (usually 1).")
        cell = self.decoder.cell
        states = list(cache["states"])
        outputs = []
        for t in range(steps):
            # `.call`: the Keras mask of `mask_zero` means nothing to a single cell step.
            h, states = cell(self.target_embedding.call(token_ids[:, t]), states, training=False)
            states = list(states)
            if self.attention_layer is not None:
                context = self.attention_layer(
                    ops.expand_dims(h, 1), cache["encoder_outputs"], mask=cache["source_mask"]
                )[:, 0, :]
                h = self.attentional_hidden(ops.concatenate([context, h], axis=-1))
            outputs.append(self.output_layer(h))
        return ops.stack(outputs, axis=1), {**cache, "states": states}

    def attention_scores(self, source_ids, decoder_token_ids):
        """The attention's alignment on one teacher-forced pass (eager; outputs unchanged).

        Encodes `source_ids` `(B, S)`, runs the decoder over `decoder_token_ids`
        `(B, T)` (0 = padding) from the encoder's final state, as the model's
        graph does at inference, and returns

            {"cross": [α (B, 1, T, S)]}     α_tj = masked_softmax_j score(h_t, s_j)

        one layer with one head, in the layout of `TransformerSeq2Seq.attention_scores`.
        Row t is the alignment of the decoder state that predicts target token
        t+1 (Bahdanau et al. 2015, Fig. 3); padded source positions get zero weight.
        The decoder runs forward only, so for a greedy output `[start, y_1, …]`
        the rows are the weights of the step-by-step decoding. Raises
        ValueError for a model built with `attention=None`.
        """
        if self.attention_layer is None:
            raise ValueError(f"'{self.name}' was built with attention=None: it has no attention weights.")
        source_ids = ops.convert_to_tensor(source_ids, "int32")
        decoder_token_ids = ops.convert_to_tensor(decoder_token_ids, "int32")
        source_mask = ops.not_equal(source_ids, 0)
        encoder_outputs, *states = self.encoder(self.source_embedding(source_ids), mask=source_mask, training=False)
        x = self.decoder(
            self.target_embedding(decoder_token_ids),
            initial_state=states,
            mask=ops.not_equal(decoder_token_ids, 0),
            training=False,
        )
        _, weights = self.attention_layer(x, encoder_outputs, mask=source_mask, return_attention_scores=True)
        return {"cross": [ops.expand_dims(weights, 1)]}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.dtype_policy_config(),
            "source_vocabulary_size": self.source_vocabulary_size,
            "target_vocabulary_size": self.target_vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "cell": self.cell,
            "attention": self.attention,
            "dropout": self.dropout,
        }


def seq2seq(
    *,
    source_vocabulary_size=5000,
    target_vocabulary_size=5000,
    embedding_dim=128,
    units=256,
    cell="lstm",
    attention="bahdanau",
    dropout=0.0,
    name="seq2seq",
):
    """An RNN encoder–decoder with optional attention; see `RNNSeq2Seq` for the math.

    Args:
        source_vocabulary_size: Number of source token ids (0 = padding).
        target_vocabulary_size: Number of target token ids (0 = padding).
        embedding_dim: Width of the token vectors (both languages).
        units: Size of the encoder and decoder states (and of the attention).
        cell: "lstm", "gru" or "simple_rnn".
        attention: "bahdanau", "luong" or None.
        dropout: Dropout on the inputs of both recurrent layers and before the output layer.
        name: Model name.

    Returns:
        An `RNNSeq2Seq`: {`encoder_token_ids` `(B, S)`, `decoder_token_ids` `(B, T)`} →
        `probabilities` `(B, T, target_vocabulary_size)`, with `.generate(...)`.
    """
    return RNNSeq2Seq(
        source_vocabulary_size=source_vocabulary_size,
        target_vocabulary_size=target_vocabulary_size,
        embedding_dim=embedding_dim,
        units=units,
        cell=cell,
        attention=attention,
        dropout=dropout,
        name=name,
    )
