"""The classifier's forest (``model: features``): our traversal of the saved trees beside
scikit-learn's own ``predict_proba`` on the same trees.

A forest classifier folder keeps its trees as plain arrays (``classifier.forest.Forest``) and reads
them with a numpy traversal, so that no pickled scikit-learn object is ever loaded. The reference is
the ``RandomForestClassifier`` those arrays came from, predicting the same clips. The benchmark first
checks that both give the same probabilities (within ``TOLERANCE``), then times each.

The forest is the classifier's default size (500 trees, leaves of at least two clips), grown on the
envelope features of built-in corpus clips (400; ``--quick``: 100) and asked for the probabilities
of as many other clips. The feature extraction that comes first in real use is timed too, for
context only (``features_clips_per_s``: ``clip_features``, which has no reference).
"""

from __future__ import annotations

import numpy as np

from common import emit, quick, timeit

SR = 22050
TOLERANCE = 1e-9


def main() -> None:
    from sklearn.ensemble import RandomForestClassifier

    from gesturegan import gestures
    from gesturegan.classifier.forest import Forest, clip_features, feature_names
    from gesturegan.corpus import clip_rng, synthesize

    n = 100 if quick() else 400
    repeat = 3 if quick() else 5
    names = feature_names(SR)
    cats = gestures.CATEGORIES

    def clips(seed: int) -> tuple[np.ndarray, np.ndarray]:
        waves = [synthesize(c, clip_rng(seed, c, i), sr=SR) for c in cats for i in range(n // 4)]
        labels = np.repeat(np.arange(len(cats)), n // 4)
        return np.stack(waves), labels

    train_waves, train_y = clips(1)
    test_waves, _ = clips(2)
    x_train = clip_features(train_waves, SR, names)
    x_test = clip_features(test_waves, SR, names)
    cfg = dict(trees=500, min_leaf=2, seed=0)
    forest = Forest.fit(x_train, train_y, len(cats), names, **cfg)
    rf = RandomForestClassifier(
        cfg["trees"], min_samples_leaf=cfg["min_leaf"], class_weight="balanced",
        random_state=cfg["seed"], n_jobs=1,
    ).fit(x_train, train_y)  # fmt: skip
    diff = float(
        np.abs(forest.probabilities(x_test)[:, rf.classes_] - rf.predict_proba(x_test)).max()
    )
    if diff > TOLERANCE:
        raise SystemExit(f"bench_forest: probabilities differ by {diff:.3g}, not comparable")

    ours = timeit(lambda: forest.probabilities(x_test), repeat=repeat)
    ref = timeit(lambda: rf.predict_proba(x_test), repeat=repeat)
    feats = timeit(lambda: clip_features(test_waves, SR, names), repeat=min(repeat, 2))
    emit(
        "forest_predict",
        len(x_test) / ours.best,
        len(x_test) / ref.best,
        "clips/s",
        better="higher",
        n_clips=len(x_test),
        trees=cfg["trees"],
        nodes=len(forest.feature),
        features_clips_per_s=len(x_test) / feats.best,
    )


if __name__ == "__main__":
    main()
