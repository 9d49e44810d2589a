"""Helpers for the client tests: fast configs and a sleep that records instead of waiting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from evolution.clients import ClientConfig


class SleepRecorder:
    """Stands in for asyncio.sleep in the retry loop: records the delay, yields, returns."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def config_for(test_server):
    """``config_for(**overrides)``: a ClientConfig for the test server with small delays."""

    def make(**overrides: Any) -> ClientConfig:
        settings: dict[str, Any] = {
            "base_url": test_server.base_url,
            "model": "qwen2.5-coder-32b-instruct",
            "name": "generator",
            "timeout_s": 2.0,
            "connect_timeout_s": 1.0,
            "backoff_base_s": 0.001,
            "backoff_max_s": 0.01,
        }
        settings.update(overrides)
        return ClientConfig(**settings)

    return make
