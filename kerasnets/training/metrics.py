"""Held-out metrics beyond Keras' own: F1, Matthews correlation, perplexity, BLEU."""

import math

import numpy as np


def binary_f1(labels, predictions, positive=1):
    """F1 = 2·P·R / (P + R) of the `positive` class (GLUE's MRPC metric)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    true_positive = np.sum((predictions == positive) & (labels == positive))
    predicted, actual = np.sum(predictions == positive), np.sum(labels == positive)
    if predicted == 0 or actual == 0 or true_positive == 0:
        return 0.0
    precision, recall = true_positive / predicted, true_positive / actual
    return float(2 * precision * recall / (precision + recall))


def matthews_correlation(labels, predictions):
    """MCC = (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN)) (GLUE's CoLA metric); 0 when undefined."""
    labels, predictions = np.asarray(labels).astype(bool), np.asarray(predictions).astype(bool)
    tp = float(np.sum(predictions & labels))
    tn = float(np.sum(~predictions & ~labels))
    fp = float(np.sum(predictions & ~labels))
    fn = float(np.sum(~predictions & labels))
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return 0.0 if denominator == 0 else (tp * tn - fp * fn) / denominator


def perplexity(loss):
    """exp(mean cross-entropy in nats per token)."""
    return float(math.exp(min(float(loss), 700.0)))


def corpus_bleu(hypotheses, references):
    """Corpus BLEU (0–100) of `hypotheses` against one reference each, by sacrebleu."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


def most_frequent_target_rate(dataset):
    """The MLM accuracy of always predicting the most frequent masked token: the baseline to beat."""
    counts = {}
    for _, targets, weights in dataset:
        chosen = targets["mlm_probabilities"].numpy()[weights["mlm_probabilities"].numpy() > 0]
        for token, count in zip(*np.unique(chosen, return_counts=True)):
            counts[token] = counts.get(token, 0) + int(count)
    total = sum(counts.values())
    return max(counts.values()) / total if total else 0.0
