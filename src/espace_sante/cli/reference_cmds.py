"""``espace-sante directory import`` and ``espace-sante allowlist import``: the national reference
data of the MSSanté trust space (the directory of mailboxes and the allow-list of domains)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import click

from espace_sante.accounts.allowlist import AllowlistFormatError, AllowlistReport, import_allowlist
from espace_sante.accounts.directory import (
    DirectoryFormatError,
    ImportReport,
    Rejection,
    extraction_size,
    import_directory,
)
from espace_sante.cli.context import open_storage, run, settings_or_exit

#: Rejection reasons printed after the summary; the rest are counted.
SHOWN_REJECTIONS = 20

_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


@click.group()
def directory() -> None:
    """The national MSSanté directory of mailboxes (professionals and organisations)."""


@directory.command("import")
@click.argument("file", type=_FILE)
@click.option(
    "--prune",
    is_flag=True,
    help="Delete the mailboxes the file no longer lists (by default they are only counted).",
)
def directory_import(file: Path, prune: bool) -> None:
    """Import FILE, the ANS extraction Extraction_Correspondance_MSSante (.txt or .zip).

    Re-importing updates the directory in place. Prints what changed and the first rejected rows.
    """
    settings = settings_or_exit()

    async def go() -> ImportReport:
        async with open_storage(settings) as storage:
            with _progress_bar(extraction_size(file), "directory") as bar:
                update = bar.update if bar is not None else None
                return await import_directory(storage, file, progress=update, prune=prune)

    try:
        report = run(go)
    except DirectoryFormatError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    click.echo(
        f"imported {report.imported}, updated {report.updated}, "
        f"unchanged {report.unchanged}, rejected {len(report.rejected)}"
    )
    if prune:
        click.echo(f"pruned {report.pruned} mailboxes no longer in the file")
    elif report.missing_from_file:
        click.echo(
            f"{report.missing_from_file} mailboxes are no longer in the file "
            "(kept; --prune deletes them)"
        )
    _echo_rejections(report.rejected)


@click.group()
def allowlist() -> None:
    """The MSSanté trust-space allow-list of domains."""


@allowlist.command("import")
@click.argument("file", type=_FILE)
def allowlist_import(file: Path) -> None:
    """Make the allow-list exactly the domains of FILE (listeblanchemssante.xml)."""
    settings = settings_or_exit()

    async def go() -> AllowlistReport:
        async with open_storage(settings) as storage:
            return await import_allowlist(storage, file)

    try:
        report = run(go)
    except AllowlistFormatError as exc:
        raise click.ClickException(f"{file}: {exc} (the allow-list was not changed)") from exc
    click.echo(
        f"added {report.added}, kept {report.kept}, removed {report.removed}, "
        f"rejected {len(report.rejected)}"
    )
    _echo_rejections(report.rejected)


def _progress_bar(total: int, label: str) -> AbstractContextManager[Any]:
    """A bar over the bytes read, on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return nullcontext(None)
    return click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True)


def _echo_rejections(rejected: Sequence[Rejection]) -> None:
    for r in rejected[:SHOWN_REJECTIONS]:
        click.echo(f"  line {r.line_no}: {r.reason}")
    if len(rejected) > SHOWN_REJECTIONS:
        click.echo(f"  … and {len(rejected) - SHOWN_REJECTIONS} more")
