"""Fixtures for every test: process-wide logging state is put back after each test.

Running the command in process (`fasthttpd.cli.main`), `configure_logging` and
`--log-config` change loggers that outlive the test: fasthttpd's loggers stop
propagating and write to the test's captured (and then closed) stderr, and a
dictConfig may disable other loggers. A later test that reads the logs through
pytest's `caplog` (which listens on the root logger) would then see nothing, so
the suite's result would depend on the order the tests run in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest


def _logging_state() -> dict[str, tuple[Any, ...]]:
    loggers: dict[str, logging.Logger] = {"": logging.getLogger()}
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            loggers[name] = logger
    return {name: (logger, list(logger.handlers), list(logger.filters), logger.level,
                   logger.propagate, logger.disabled)
            for name, logger in loggers.items()}


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    saved = _logging_state()
    disabled = logging.root.manager.disable
    yield
    for logger, handlers, filters, level, propagate, was_disabled in saved.values():
        logger.handlers[:] = handlers
        logger.filters[:] = filters
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = was_disabled
    logging.disable(disabled)
