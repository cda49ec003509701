"""The HTTP service and its web page: ``create_app(classifier, limits)``; ``cinesense serve`` runs it."""

from cinesense.serve.app import create_app
from cinesense.serve.limits import ApiError, Limits

__all__ = ["ApiError", "Limits", "create_app"]
