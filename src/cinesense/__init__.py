"""cinesense: multimodal sentiment analysis of Chinese movie-review comments."""

__version__ = "0.1.0"

from cinesense.classifier import Classifier  # noqa: E402

__all__ = ["Classifier", "__version__"]
