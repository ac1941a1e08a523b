"""Near duplicates on their own (the dataset-wide use is in test_validation.py)."""

from __future__ import annotations

from desktop.finetune.duplicates import find_near_duplicates, jaccard, normalised_words
from tests.finetune.test_validation import SIMILAR


def test_near_duplicates_need_real_similarity() -> None:
    base = normalised_words(SIMILAR)
    changed = list(base)
    changed[5] = "different"
    unrelated = normalised_words("The invoice arrives by email on the first day of each month.")
    found = find_near_duplicates([base, unrelated, changed, [], base[:10]])
    assert set(found) == {2}
    earlier, similarity = found[2]
    assert earlier == 0 and 0.8 <= similarity < 1.0


def test_normalised_words_ignore_case_punctuation_and_spacing() -> None:
    assert normalised_words("  Hello,   WORLD… “again”! ") == ["hello", "world", "again"]
    assert jaccard({("a", "b")}, {("a", "b"), ("b", "c")}) == 0.5
