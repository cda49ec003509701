"""Inference off the event loop: one worker thread runs the model, so health checks and page loads
answer while it works, and a bounded number of requests may wait for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

from cinesense.serve.limits import ApiError

logger = logging.getLogger(__name__)
T = TypeVar("T")


class InferenceRunner:
    """Runs model calls one at a time in a worker thread, refusing (503) past ``max_pending``.

    A ``ValueError`` from the model (e.g. an image that cannot be decoded) becomes a 422, anything
    else a 500 logged with its traceback; the service keeps running either way.
    """

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self.pending = 0  # only touched on the event loop
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cinesense-inference")
        self._closed = False

    def open(self) -> None:
        """A new worker thread after ``close`` (an application started again after a shutdown)."""
        if self._closed:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cinesense-inference")
            self._closed = False

    async def run(self, function: Callable[[], T]) -> T:
        if self.pending >= self.max_pending:
            raise ApiError(503, f"server busy: {self.pending} requests are waiting for the model (max_pending={self.max_pending}); retry later",
                           limit="max_pending")
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, function)
        finally:
            self.pending -= 1

    @staticmethod
    def _call(function: Callable[[], T]) -> T:
        try:
            with torch.inference_mode():
                return function()
        except ApiError:
            raise
        except ValueError as error:
            raise ApiError(422, str(error), field=getattr(error, "field", None)) from None
        except Exception as error:  # noqa: BLE001 - a bad request must never take the service down
            logger.exception("inference failed")
            raise ApiError(500, f"internal error while predicting ({type(error).__name__}); see the server log") from None

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
