"""The report's text-only row scores every comment: a text without words is read as in training
(``predict_proba`` refuses it), a comment without text gets the training prior."""

import numpy as np

from cinesense.classifier import Classifier
from cinesense.data.schema import Record
from cinesense.jobs.scoring import text_only_proba


def test_text_only_row_scores_texts_without_words_and_comments_without_text(tiny_text_model):
    clf = Classifier.load(tiny_text_model) if not isinstance(tiny_text_model, Classifier) else tiny_text_model
    records = [Record("a", "房间很干净", "positive"), Record("b", "😡😡", "negative"), Record("c", None, "negative")]
    prior = np.array([0.25, 0.75])
    proba = text_only_proba(clf, records, prior)
    assert proba.shape == (3, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[2], prior)
    np.testing.assert_allclose(proba[0], clf.predict_proba(["房间很干净"])[0], rtol=1e-6)  # batched vs alone: float noise
