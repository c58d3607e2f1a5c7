"""The context-manager half of the discovery port, shared by its adapters."""

from __future__ import annotations

import abc
import logging
from types import TracebackType
from typing import Self

logger = logging.getLogger(__name__)


class ClosingDiscovery(abc.ABC):
    """Base of the discovery adapters: ``with`` returns the adapter and closes it.

    A subclass defines :meth:`close` (idempotent, withdraws its registrations);
    ``__exit__`` calls it whatever the block raised and never swallows the error.
    """

    @abc.abstractmethod
    def close(self) -> None:
        """Withdraw this object's registrations and release its resources."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
