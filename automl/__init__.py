"""automl: finds a strong, inspectable scikit-learn pipeline for tabular classification."""

__version__ = "0.1.0"

from automl.estimator import AutoClassifier
from automl.export import load_model

__all__ = ["AutoClassifier", "__version__", "load_model"]
