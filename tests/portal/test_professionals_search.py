"""The directory search behind ``/professionnels/rechercher`` (``accounts.professionals.
search_people``) on both databases: by name (any case, given and family name), by the first
digits of a national id, bounded, LIKE's wildcards taken literally."""

from __future__ import annotations

import pytest

from espace_sante.accounts.professionals import SEARCH_LIMIT, search_people
from espace_sante.storage.runtime import Storage
from portal.pro_fixtures import ATTENDING_ID, CARDIO_ID, STRANGER_ID, add_people


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both databases (tests/portal's conftest keeps the pages on SQLite)."""
    return str(request.param)


@pytest.fixture
async def directory(storage: Storage) -> Storage:
    await add_people(storage)
    return storage


async def _ids(storage: Storage, text: str, limit: int = SEARCH_LIMIT) -> list[str]:
    async with storage.sessions() as s:
        return [p.national_id for p in await search_people(s, text, limit=limit)]


async def test_by_name_and_by_number(directory: Storage) -> None:
    assert await _ids(directory, "cardio") == [CARDIO_ID]
    assert await _ids(directory, "Marc Cardio") == [CARDIO_ID]
    assert await _ids(directory, "  LOUISE  ") == [ATTENDING_ID]
    assert await _ids(directory, STRANGER_ID) == [STRANGER_ID]
    assert len(await _ids(directory, "8100000010")) == 5
    assert len(await _ids(directory, "8100000010", limit=2)) == 2
    assert len(await _ids(directory, "81", limit=10_000)) <= SEARCH_LIMIT


@pytest.mark.parametrize("text", ["%", "_", "\\", "%%", "a%", "' OR 1=1 --", "", "   ", "x" * 500])
async def test_wildcards_and_hostile_text_match_nothing(directory: Storage, text: str) -> None:
    assert await _ids(directory, text) == []
