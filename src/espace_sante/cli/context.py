"""Shared helpers of the CLI commands: settings, storage, async running, error reporting."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import click

from espace_sante.config import ConfigError, Settings, load_settings
from espace_sante.storage.crypto import KeyError_
from espace_sante.storage.migrate import SchemaOutOfDate, check_schema
from espace_sante.storage.runtime import Storage

T = TypeVar("T")


def settings_or_exit() -> Settings:
    """Load the configuration, or print what is wrong with it (naming the key) and exit 2."""
    try:
        return load_settings()
    except ConfigError as exc:
        click.echo(f"espace-sante: configuration error: {exc}", err=True)
        sys.exit(2)


def run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(_as_coro(coro_factory))


async def _as_coro(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


@asynccontextmanager
async def open_storage(settings: Settings, check: bool = True) -> AsyncIterator[Storage]:
    """Open the storage of an initialised data directory, checking the schema version."""
    try:
        storage = Storage.open(settings)
    except KeyError_ as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        if check:
            try:
                await check_schema(storage.engine)
            except SchemaOutOfDate as exc:
                raise click.ClickException(str(exc)) from exc
        yield storage
    finally:
        await storage.close()


def fail(message: str, *args: Any) -> None:
    raise click.ClickException(message % args if args else message)
