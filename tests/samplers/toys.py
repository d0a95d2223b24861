"""Small hand-made language models for the sampler tests, with a NumPy replay of their log-probabilities."""

import numpy as np
from keras import ops


class Automaton:
    """A model whose next-token logits depend on the history through its cache:

        h_0 = 0,  h_t = (h_{t-1} · multiplier + token_{t-1}) mod S,  logits_t = table[h_t]

    If a sampler did not carry (or, in beam search, reorder) the cache with
    its hypotheses, its scores would not match the NumPy replay
    `log_probability`. `multiplier=0` makes the state the previous token (a
    Markov chain over tokens).
    """

    def __init__(self, table, multiplier=7):
        self.table = np.asarray(table, "float32")
        self.num_states, self.vocabulary_size = self.table.shape
        self.multiplier = multiplier
        self.calls = 0

    def initial_cache(self, batch_size):
        return {"state": ops.zeros((batch_size,), dtype="int32")}

    def next(self, token_ids, cache, index):
        self.calls += 1
        previous = ops.take(token_ids, index - 1, axis=1)
        state = (cache["state"] * self.multiplier + previous) % self.num_states
        return ops.take(ops.convert_to_tensor(self.table), state, axis=0), {"state": state}

    def log_probabilities(self, sequence):
        """Row t: log softmax of the logits for position t given `sequence[:t]`."""
        state, rows = 0, [np.zeros(self.vocabulary_size)]
        for token in sequence[:-1]:
            state = (state * self.multiplier + int(token)) % self.num_states
            logits = self.table[state].astype("float64")
            top = logits.max()
            row = logits - top - np.log(np.exp(logits - top).sum())  # the model's distribution, padding included
            row[0] = -np.inf  # … which is never generated
            rows.append(row)
        return np.array(rows)

    def log_probability(self, sequence, first_generated):
        """Σ log p of the tokens at positions ≥ `first_generated` that are not padding."""
        table = self.log_probabilities(list(sequence))
        return sum(table[t, sequence[t]] for t in range(first_generated, len(sequence)) if sequence[t] != 0)


def markov(probabilities):
    """An `Automaton` whose state is the previous token: next ~ `probabilities[previous]`."""
    return Automaton(np.log(np.maximum(np.asarray(probabilities, "float64"), 1e-9)), multiplier=0)


def random_automaton(seed, num_states=11, vocabulary_size=6, scale=2.0):
    return Automaton(np.random.default_rng(seed).normal(scale=scale, size=(num_states, vocabulary_size)))


def buffer(prompts, length):
    """Right-padded prompts → (ids `(B, length)`, mask `(B, length)`, first index 1)."""
    ids = np.zeros((len(prompts), length), "int32")
    for row, prompt in enumerate(prompts):
        ids[row, : len(prompt)] = prompt
    return ids, ids != 0, 1  # the toys have no prefill: their caches read the prompts from position 1


def greedy_replay(model, prompt, length):
    """What greedy decoding must give: argmax (padding excluded) position by position."""
    sequence = list(prompt)
    while len(sequence) < length:
        sequence.append(int(np.argmax(model.log_probabilities(sequence + [0])[-1])))
    return sequence
