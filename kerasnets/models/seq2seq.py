import keras

from kerasnets.layers.bahdanau_attention import BahdanauAttention
from kerasnets.layers.luong_attention import LuongAttention
from kerasnets.models.rnn_classifier import recurrent_layer

ATTENTIONS = ("bahdanau", "luong", None)


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
    """An RNN encoder–decoder (Sutskever et al. 2014; Cho et al. 2014) with
    optional attention (Bahdanau et al. 2015; Luong et al. 2015).

        encoder:   s_1 … s_S, state = RNN_enc(E_src[source])
        decoder:   h_1 … h_T = RNN_dec(E_tgt[decoder inputs]), started from the encoder's final state
        attention: c_t = Attention(h_t, s_1 … s_S)              (padded source steps get zero weight)
                   h̃_t = tanh([c_t; h_t] W_c + b_c)             (attentional hidden state, Luong style)
        output:    p(y_t | y_<t, source) = softmax(Dropout(h̃_t) W + b)

    Trained with teacher forcing: `decoder_token_ids` is the target sequence
    shifted right behind a start token, e.g. `[BOS, y_1, …, y_n]`, and the
    labels are `[y_1, …, y_n, EOS]`. Id 0 is padding in both languages
    (`Embedding(mask_zero=True)`): padded source steps are skipped by the
    encoder and ignored by the attention, so source padding never changes
    the output; the decoder's padding mask is carried to `probabilities`, so
    Keras leaves padded target positions out of the loss. The decoder runs
    only forward, so the output at step t never depends on a later decoder
    token. Without attention, h̃_t is h_t.

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
        name: Model name.

    Returns:
        A Functional model: {`encoder_token_ids` `(B, S)`, `decoder_token_ids`
        `(B, T)`} → `probabilities` `(B, T, target_vocabulary_size)`.
    """
    if attention not in ATTENTIONS:
        raise ValueError(f"Unknown attention '{attention}'. Valid attentions: bahdanau, luong, None.")
    encoder_token_ids = keras.Input(shape=(None,), dtype="int32", name="encoder_token_ids")
    decoder_token_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_token_ids")
    # Explicit padding masks: Keras does not fill in `mask` for the decoder,
    # which is also given `initial_state` (and keras.layers.GRU would then ignore it).
    encoder_mask = keras.ops.not_equal(encoder_token_ids, 0)
    decoder_mask = keras.ops.not_equal(decoder_token_ids, 0)

    source = keras.layers.Embedding(source_vocabulary_size, embedding_dim, mask_zero=True, name="encoder_embedding")(
        encoder_token_ids
    )
    encoder = recurrent_layer(cell, units, return_sequences=True, return_state=True, dropout=dropout, name="encoder")
    encoder_outputs, *encoder_states = encoder(source, mask=encoder_mask)

    target = keras.layers.Embedding(target_vocabulary_size, embedding_dim, mask_zero=True, name="decoder_embedding")(
        decoder_token_ids
    )
    decoder = recurrent_layer(cell, units, return_sequences=True, dropout=dropout, name="decoder")
    x = decoder(target, initial_state=encoder_states, mask=decoder_mask)

    if attention is not None:
        if attention == "bahdanau":
            attention_layer = BahdanauAttention(units, name="attention")
        else:
            attention_layer = LuongAttention(score="general", name="attention")
        context = attention_layer(x, encoder_outputs, mask=encoder_mask)
        x = keras.layers.Concatenate(name="concatenate")([context, x])
        x = keras.layers.Dense(units, activation="tanh", name="attentional_hidden")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(
        target_vocabulary_size, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(
        {"encoder_token_ids": encoder_token_ids, "decoder_token_ids": decoder_token_ids}, outputs, name=name
    )
