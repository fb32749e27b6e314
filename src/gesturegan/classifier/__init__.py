"""A compact CNN classifier of clips, for the gesture categories or any other label set.

Modules: ``config`` (options), ``model`` (the network), ``augment`` (training-time changes, also
for library shift), ``split`` (train / validation / test by source file, or a whole library held
out), ``metrics`` (accuracy, macro-F1, recall, confusion), ``train`` (training and the classifier
folder), ``lolo`` (leave one library out: the table per held-out library), ``inference``
(``Classifier``: load, probabilities, embedding; ``evaluate`` on held-out data).

The classifier's penultimate layer is the embedding that ``evaluate``'s Fréchet distance and
inception score are computed in: ``Classifier.load(DIR).embed(waves) -> [B, embed_dim]``.
"""

from .config import AugmentConfig, ClassifierConfig
from .inference import Classifier, EvalResult, evaluate, load
from .train import TrainSummary, train

__all__ = [
    "AugmentConfig",
    "Classifier",
    "ClassifierConfig",
    "EvalResult",
    "TrainSummary",
    "evaluate",
    "load",
    "train",
]
