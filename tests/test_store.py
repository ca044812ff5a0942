"""DuckDBStore against a real DuckDB file: pagination, upserts, scoping, cascades, migrations."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    InferenceOptions,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)

from chatkit_onprem.chat.turn import Turn
from chatkit_onprem.context import RequestContext
from chatkit_onprem.store import Database, DuckDBDatabase, DuckDBStore, apply_migrations
from chatkit_onprem.store.migrations import MIGRATIONS, SchemaTooNewError

ALICE = RequestContext(tenant="acme", user="alice")
BOB = RequestContext(tenant="acme", user="bob")
EVE = RequestContext(tenant="evil", user="alice")  # same user name, other tenant
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = DuckDBDatabase(tmp_path / "store.duckdb", write_batch_max=64)
    apply_migrations(database)
    yield database
    database.close()


@pytest.fixture
def store(db: Database) -> DuckDBStore:
    return DuckDBStore(db, max_page_size=50)


def thread(thread_id: str = "thr_1", created_at: datetime = T0) -> ThreadMetadata:
    return ThreadMetadata(id=thread_id, created_at=created_at)


def message(
    item_id: str, thread_id: str = "thr_1", at: datetime = T0, text: str = "hi"
) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id, thread_id=thread_id, created_at=at, content=[AssistantMessageContent(text=text)]
    )


def ids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [item.id for item in page.data]


def test_keyset_pagination_asc_and_desc_with_equal_timestamps(store: DuckDBStore) -> None:
    async def scenario() -> None:
        await store.save_thread(thread(), ALICE)
        # Seven items, five of them sharing one timestamp: seq must break the tie in insert order.
        times = [T0, T0 + timedelta(seconds=1)] + [T0 + timedelta(seconds=2)] * 5
        for n, at in enumerate(times):
            await store.add_thread_item("thr_1", message(f"m{n}", at=at), ALICE)
        everything = [f"m{n}" for n in range(7)]

        collected, after = [], None
        while True:
            page = await store.load_thread_items("thr_1", after, 3, "asc", ALICE)
            collected += ids(page)
            assert page.after == (page.data[-1].id if page.data else None)
            if not page.has_more:
                break
            after = page.after
        assert collected == everything

        collected, after = [], None
        while True:
            page = await store.load_thread_items("thr_1", after, 2, "desc", ALICE)
            collected += ids(page)
            if not page.has_more:
                break
            after = page.after
        assert collected == list(reversed(everything))

    run(scenario())


def test_has_more_is_false_on_an_exact_last_page(store: DuckDBStore) -> None:
    async def scenario() -> None:
        await store.save_thread(thread(), ALICE)
        for n in range(4):
            await store.add_thread_item("thr_1", message(f"m{n}", at=T0 + timedelta(seconds=n)), ALICE)
        first = await store.load_thread_items("thr_1", None, 2, "asc", ALICE)
        assert ids(first) == ["m0", "m1"] and first.has_more
        last = await store.load_thread_items("thr_1", first.after, 2, "asc", ALICE)
        assert ids(last) == ["m2", "m3"] and last.has_more is False and last.after == "m3"
        empty = await store.load_thread_items("thr_1", "m3", 2, "asc", ALICE)
        assert empty.data == [] and empty.has_more is False and empty.after is None

    run(scenario())


def test_limits_are_clamped(store: DuckDBStore) -> None:
    async def scenario() -> None:
        await store.save_thread(thread(), ALICE)
        await store.save_items(
            "thr_1", [message(f"m{n:03}", at=T0 + timedelta(seconds=n)) for n in range(60)], ALICE
        )
        page = await store.load_thread_items("thr_1", None, 10_000, "asc", ALICE)
        assert len(page.data) == 50 and page.has_more
        assert len((await store.load_thread_items("thr_1", None, -5, "asc", ALICE)).data) == 1
        for n in range(60):
            await store.save_thread(thread(f"thr_x{n}", T0 + timedelta(seconds=n)), ALICE)
        threads = await store.load_threads(10_000, None, "desc", ALICE)
        assert len(threads.data) == 50 and threads.has_more

    run(scenario())


def test_thread_pages_newest_first(store: DuckDBStore) -> None:
    async def scenario() -> None:
        for n in range(5):
            await store.save_thread(thread(f"thr_{n}", T0 + timedelta(minutes=n)), ALICE)
        await store.save_thread(thread("thr_bob"), BOB)
        first = await store.load_threads(3, None, "desc", ALICE)
        assert ids(first) == ["thr_4", "thr_3", "thr_2"] and first.has_more
        rest = await store.load_threads(3, first.after, "desc", ALICE)
        assert ids(rest) == ["thr_1", "thr_0"] and not rest.has_more
        asc = await store.load_threads(10, None, "asc", ALICE)
        assert ids(asc) == [f"thr_{n}" for n in range(5)]

    run(scenario())


def test_upserts_keep_position_and_replace_payload(store: DuckDBStore) -> None:
    async def scenario() -> None:
        await store.save_thread(thread(), ALICE)
        await store.add_thread_item("thr_1", message("a", text="first"), ALICE)
        await store.add_thread_item("thr_1", message("b", at=T0 + timedelta(seconds=1)), ALICE)
        # The library re-adds the same id (e.g. a workflow after a client tool call).
        await store.add_thread_item("thr_1", message("a", text="second"), ALICE)
        await store.save_item("thr_1", message("a", text="third"), ALICE)
        page = await store.load_thread_items("thr_1", None, 10, "asc", ALICE)
        assert ids(page) == ["a", "b"]
        loaded = await store.load_item("thr_1", "a", ALICE)
        assert isinstance(loaded, AssistantMessageItem) and loaded.content[0].text == "third"
        # Saving the thread twice is an upsert too.
        meta = await store.load_thread("thr_1", ALICE)
        meta.title = "renamed"
        await store.save_thread(meta, ALICE)
        assert (await store.load_thread("thr_1", ALICE)).title == "renamed"

    run(scenario())


def test_timestamps_are_stored_in_utc(store: DuckDBStore, db: Database) -> None:
    naive_local = datetime(2026, 3, 1, 10, 30)  # what the library stamps: datetime.now()

    async def scenario() -> None:
        await store.save_thread(thread(created_at=naive_local), ALICE)  # type: ignore[arg-type]
        await store.add_thread_item("thr_1", message("m", at=naive_local), ALICE)
        loaded = await store.load_item("thr_1", "m", ALICE)
        assert loaded.created_at.tzinfo is not None
        assert loaded.created_at == naive_local.astimezone(UTC)
        meta = await store.load_thread("thr_1", ALICE)
        assert meta.created_at.utcoffset() == timedelta(0)

    run(scenario())


def test_every_query_is_scoped_to_tenant_and_user(store: DuckDBStore) -> None:
    async def scenario() -> None:
        await store.save_thread(thread(), ALICE)
        await store.add_thread_item("thr_1", message("m"), ALICE)
        attachment = FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain")
        await store.save_attachment(attachment, ALICE)
        for other in (BOB, EVE):
            with pytest.raises(NotFoundError):
                await store.load_thread("thr_1", other)
            with pytest.raises(NotFoundError):
                await store.load_thread_items("thr_1", None, 10, "asc", other)
            with pytest.raises(NotFoundError):
                await store.load_item("thr_1", "m", other)
            with pytest.raises(NotFoundError):
                await store.load_attachment("atc_1", other)
            with pytest.raises(NotFoundError):
                await store.add_thread_item("thr_1", message("intruder"), other)
            with pytest.raises(NotFoundError):
                await store.save_thread(thread(), other)  # cannot take over a thread by id
            with pytest.raises(NotFoundError):
                await store.save_attachment(attachment, other)
            with pytest.raises(NotFoundError):
                await store.delete_thread("thr_1", other)
            with pytest.raises(NotFoundError):
                await store.delete_thread_item("thr_1", "m", other)
            with pytest.raises(NotFoundError):
                await store.save_feedback("thr_1", ["m"], "negative", other)
            await store.delete_attachment("atc_1", other)  # silently scoped: deletes nothing
            assert (await store.load_threads(10, None, "desc", other)).data == []
        assert (await store.load_attachment("atc_1", ALICE)).id == "atc_1"
        assert ids(await store.load_thread_items("thr_1", None, 10, "asc", ALICE)) == ["m"]

    run(scenario())


def test_delete_thread_removes_items_feedback_and_attachment_records(
    store: DuckDBStore, db: Database
) -> None:
    async def scenario() -> list[str]:
        await store.save_thread(thread(), ALICE)
        user = UserMessageItem(
            id="u",
            thread_id="thr_1",
            created_at=T0,
            content=[UserMessageTextContent(text="hi")],
            inference_options=InferenceOptions(),
        )
        await store.add_thread_item("thr_1", user, ALICE)
        await store.save_feedback("thr_1", ["u"], "positive", ALICE)
        await store.save_attachment(
            FileAttachment(id="atc_1", name="a", mime_type="text/plain", thread_id="thr_1"), ALICE
        )
        removed = await store.delete_thread_returning_attachments("thr_1", ALICE)
        return removed

    assert run(scenario()) == ["atc_1"]
    counts = db.write_sync(
        lambda cur: [
            cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table in ("threads", "items", "feedback", "attachments")
        ]
    )
    assert counts == [0, 0, 0, 0]


def test_feedback_is_persisted_and_changeable(store: DuckDBStore) -> None:
    async def scenario() -> None:
        await store.save_thread(thread(), ALICE)
        await store.add_thread_item("thr_1", message("m"), ALICE)
        await store.save_feedback("thr_1", ["m"], "positive", ALICE)
        assert await store.load_feedback("thr_1", ALICE) == {"m": "positive"}
        await store.save_feedback("thr_1", ["m"], "negative", ALICE)
        assert await store.load_feedback("thr_1", ALICE) == {"m": "negative"}
        with pytest.raises(NotFoundError):
            await store.save_feedback("thr_1", ["nope"], "positive", ALICE)

    run(scenario())


def test_a_failing_write_does_not_take_its_batch_down(store: DuckDBStore) -> None:
    """Group commit: writes queued together succeed even if one of them fails."""

    async def scenario() -> None:
        await store.save_thread(thread(), ALICE)
        good = [
            store.add_thread_item("thr_1", message(f"g{n}", at=T0 + timedelta(seconds=n)), ALICE)
            for n in range(20)
        ]
        bad = store.add_thread_item("thr_missing", message("x"), ALICE)
        results = await asyncio.gather(*good[:10], bad, *good[10:], return_exceptions=True)
        assert isinstance(results[10], NotFoundError)
        assert sum(r is None for r in results) == 20
        page = await store.load_thread_items("thr_1", None, 50, "asc", ALICE)
        assert len(page.data) == 20

    run(scenario())


def test_a_re_added_id_in_a_batch_of_new_items_is_upserted(store: DuckDBStore, db: Database) -> None:
    """New items are inserted without ON CONFLICT; a duplicate among them fails that batch,
    which is replayed write by write with upserts: every write lands, none twice."""

    async def scenario() -> None:
        await store.save_thread(thread(), ALICE)
        await store.add_thread_item("thr_1", message("dup", text="first"), ALICE)
        writes = [
            store.add_thread_item("thr_1", message(f"n{n}", at=T0 + timedelta(seconds=n + 1)), ALICE)
            for n in range(12)
        ]
        writes.insert(6, store.add_thread_item("thr_1", message("dup", text="again"), ALICE))
        assert await asyncio.gather(*writes) == [None] * 13
        page = await store.load_thread_items("thr_1", None, 50, "asc", ALICE)
        assert ids(page) == ["dup", *(f"n{n}" for n in range(12))]
        loaded = await store.load_item("thr_1", "dup", ALICE)
        assert isinstance(loaded, AssistantMessageItem) and loaded.content[0].text == "again"

    run(scenario())
    rows = db.write_sync(lambda cur: cur.execute("SELECT count(*) FROM items").fetchone())
    assert rows == (13,)


def test_a_deleted_thread_takes_no_more_items(store: DuckDBStore, db: Database) -> None:
    """Known owners skip the lookup; deleting a thread must forget it, or items would be
    written into a thread that no longer exists."""

    async def scenario() -> None:
        thread_id = store.generate_thread_id(ALICE)
        await store.save_thread(thread(thread_id), ALICE)  # fresh id: inserted without lookup
        await store.add_thread_item(thread_id, message("a", thread_id), ALICE)
        meta = await store.load_thread(thread_id, ALICE)
        meta.title = "renamed"
        await store.save_thread(meta, ALICE)  # known owner: updated without lookup
        assert (await store.load_thread(thread_id, ALICE)).title == "renamed"
        with pytest.raises(NotFoundError):
            await store.save_thread(meta, BOB)
        await store.delete_thread(thread_id, ALICE)
        with pytest.raises(NotFoundError):
            await store.add_thread_item(thread_id, message("b", thread_id), ALICE)
        with pytest.raises(NotFoundError):
            await store.save_item(thread_id, message("a", thread_id), ALICE)

    run(scenario())
    counts = db.write_sync(
        lambda cur: [cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("threads", "items")]  # type: ignore[index]
    )
    assert counts == [0, 0]


def in_turn(context: RequestContext, thread_id: str | None = None) -> RequestContext:
    """The caller running a streamed turn (what the ChatKit controller hands the library)."""
    turn = Turn(kind="threads.create", tenant=context.tenant, user=context.user, thread_id=thread_id)
    return replace(context, turn=turn)


def thread_rows(db: Database) -> int:
    return int(db.write_sync(lambda cur: cur.execute("SELECT count(*) FROM threads").fetchone()[0]))  # type: ignore[index]


def test_a_new_thread_saved_outside_a_turn_is_written_at_once(store: DuckDBStore) -> None:
    async def scenario() -> None:
        thread_ids = [store.generate_thread_id(ALICE) for _ in range(5)]
        for n, thread_id in enumerate(thread_ids):
            await store.save_thread(thread(thread_id, T0 + timedelta(seconds=n)), ALICE)
        assert (await store.load_thread(thread_ids[-1], ALICE)).id == thread_ids[-1]
        listed = await store.load_threads(10, None, "asc", ALICE)
        assert [t.id for t in listed.data] == thread_ids
        assert (await store.load_thread_items(thread_ids[0], None, 10, "asc", ALICE)).data == []
        with pytest.raises(NotFoundError):
            await store.load_thread(thread_ids[1], BOB)

    run(scenario())


def test_a_new_threads_first_save_goes_in_with_its_first_item(store: DuckDBStore, db: Database) -> None:
    """threads.create: the thread row and its first message commit together; a create refused
    before its first message writes nothing."""

    async def scenario() -> None:
        refused = in_turn(ALICE)
        await store.save_thread(thread(store.generate_thread_id(ALICE)), refused)
        assert thread_rows(db) == 0 and refused.turn.first_save is not None

        created = in_turn(ALICE)
        thread_id = store.generate_thread_id(ALICE)
        await store.save_thread(thread(thread_id), created)
        assert thread_rows(db) == 0
        await store.add_thread_item(thread_id, message("m1", thread_id), created)
        assert created.turn.first_save is None
        assert (await store.load_thread(thread_id, ALICE)).id == thread_id
        assert ids_of((await store.load_thread_items(thread_id, None, 10, "asc", ALICE)).data) == ["m1"]
        assert thread_rows(db) == 1

    run(scenario())


def test_a_thread_the_precheck_read_is_handed_to_its_turn_once(store: DuckDBStore) -> None:
    async def scenario() -> None:
        await store.save_thread(thread(), ALICE)
        context = in_turn(ALICE, "thr_1")
        read = await store.read_thread("thr_1", context)
        context.turn.thread = read  # what the protocol precheck does
        with pytest.raises(NotFoundError):
            await store.load_thread("thr_1", in_turn(BOB, "thr_1"))  # another caller reads the database
        assert await store.load_thread("thr_1", context) is read
        again = await store.load_thread("thr_1", context)  # once only: a fresh read
        assert again is not read and again == read

    run(scenario())


def test_the_precheck_reads_thread_and_history_in_one_go(store: DuckDBStore) -> None:
    async def scenario() -> None:
        await store.save_thread(thread(), ALICE)
        for n in range(5):
            await store.add_thread_item("thr_1", message(f"m{n}", at=T0 + timedelta(seconds=n)), ALICE)
        meta, newest = await store.read_thread_and_history("thr_1", 3, ALICE)
        assert meta.id == "thr_1" and ids_of(newest) == ["m4", "m3", "m2"]
        turn = in_turn(ALICE, "thr_1").turn
        turn.history = newest
        assert turn.take_history("thr_other", 2) is None
        kept = turn.take_history("thr_1", 2)
        assert kept is not None and ids_of(kept) == ["m4", "m3"]
        assert turn.take_history("thr_1", 2) is None  # once
        with pytest.raises(NotFoundError):
            await store.read_thread_and_history("thr_1", 3, BOB)

    run(scenario())


def test_a_title_stored_during_a_turn_beats_the_turns_own(store: DuckDBStore) -> None:
    async def scenario() -> None:
        await store.save_thread(thread(), ALICE)
        context = in_turn(ALICE, "thr_1")
        turn_copy = await store.load_thread("thr_1", context)
        renamed = await store.load_thread("thr_1", ALICE)
        renamed.title = "Chosen by the user"
        await store.save_thread(renamed, ALICE)  # threads.update, while the turn runs
        turn_copy.title = context.turn.auto_title = "Automatic title"
        await store.save_thread(turn_copy, context)
        assert (await store.load_thread("thr_1", ALICE)).title == "Chosen by the user"
        turn_copy.title = None
        await store.save_thread(turn_copy, context)  # e.g. a status change: the title stays
        assert (await store.load_thread("thr_1", ALICE)).title == "Chosen by the user"
        untitled = await store.load_thread("thr_1", ALICE)
        untitled.title = None
        await store.save_thread(untitled, ALICE)  # outside a turn, the caller's title is written
        fresh_copy = await store.load_thread("thr_1", context)
        fresh_copy.title = context.turn.auto_title
        await store.save_thread(fresh_copy, context)  # no user title now: the turn's is written
        assert (await store.load_thread("thr_1", ALICE)).title == "Automatic title"

    run(scenario())


def ids_of(items: list) -> list[str]:  # type: ignore[type-arg]
    return [item.id for item in items]


def test_generated_ids_have_at_least_96_random_bits(store: DuckDBStore) -> None:
    ids_ = {store.generate_item_id("message", thread(), ALICE) for _ in range(1000)}
    assert len(ids_) == 1000
    sample = next(iter(ids_))
    assert sample.startswith("msg_") and len(sample.split("_", 1)[1]) * 4 >= 96
    assert len(store.generate_thread_id(ALICE).split("_", 1)[1]) * 4 >= 96


def test_migrations_are_idempotent_and_refuse_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    database = DuckDBDatabase(path)
    assert apply_migrations(database) == MIGRATIONS[-1][0]
    assert apply_migrations(database) == MIGRATIONS[-1][0]
    database.write_sync(
        lambda cur: cur.execute("INSERT INTO schema_migrations VALUES (999, 'future', now())")
    )
    with pytest.raises(SchemaTooNewError):
        apply_migrations(database)
    database.close()


def test_extensions_are_never_downloaded(db: Database) -> None:
    settings = db.write_sync(
        lambda cur: cur.execute(
            "SELECT current_setting('autoinstall_known_extensions'),"
            " current_setting('autoload_known_extensions'), current_setting('enable_external_access')"
        ).fetchone()
    )
    assert settings == (False, False, False)
    with pytest.raises(duckdb.Error):
        db.write_sync(lambda cur: cur.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall())
