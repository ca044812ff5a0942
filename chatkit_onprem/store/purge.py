"""What a purge deletes, in batches: a subject's threads (with items, feedback, attachments),
their loose uploads, their usage rows. Scopes are fixed SQL fragments with bound values.

Threads go in batches (each batch one transaction: a thread's rows never half-vanish), so a
large purge never holds the single writer for long and serving goes on between batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from chatkit_onprem.store.database import Cursor, Dialect
from chatkit_onprem.store.holds import held_thread_filter, lock_holds_sync

ScopeKind = Literal["user", "tenant", "thread", "older_than", "before"]


@dataclass(frozen=True, slots=True)
class PurgeScope:
    kind: ScopeKind
    tenant: str | None = None
    user: str | None = None
    thread_id: str | None = None
    older_than: datetime | None = None  # threads inactive since before this time
    before_month: str | None = None  # rows written before this month (their keys are destroyed)

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scope": self.kind}
        for name in ("tenant", "user", "thread_id", "before_month"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.older_than is not None:
            out["older_than"] = self.older_than.isoformat()
        return out

    def threads_where(self) -> tuple[str, list[Any]]:
        """A condition on ``threads t`` selecting the threads in scope."""
        where: list[str] = []
        args: list[Any] = []
        if self.tenant is not None:
            where.append("t.tenant = ?")
            args.append(self.tenant)
        if self.kind == "user":
            where.append("t.user_id = ?")
            args.append(self.user)
        elif self.kind == "thread":
            where.append("t.id = ?")
            args.append(self.thread_id)
        elif self.kind == "older_than":
            where.append("t.updated_at < ?")
            args.append(self.older_than)
        elif self.kind == "before":
            where.append("t.key_month < ?")
            args.append(self.before_month)
        return " AND ".join(where) or "true", args

    def owner_where(self, alias: str) -> tuple[str, list[Any]] | None:
        """A condition on a table with tenant/user_id columns, for user and tenant scopes only."""
        if self.kind == "user":
            return f"{alias}.tenant = ? AND {alias}.user_id = ?", [self.tenant, self.user]
        if self.kind == "tenant":
            return f"{alias}.tenant = ?", [self.tenant]
        return None


#: The counts a batch adds to the running total (``skipped_held_threads`` is set once, ``extra`` apart).
_SUMMED = (
    "threads",
    "items",
    "attachments",
    "feedback",
    "usage_rows",
    "objects",
    "object_bytes",
    "row_bytes",
)


@dataclass(slots=True)
class PurgeCounts:
    threads: int = 0
    items: int = 0
    attachments: int = 0
    feedback: int = 0
    usage_rows: int = 0
    objects: int = 0
    object_bytes: int = 0
    row_bytes: int = 0
    skipped_held_threads: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def add(self, other: PurgeCounts) -> None:
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def public(self) -> dict[str, int]:
        out = {name: getattr(self, name) for name in (*_SUMMED, "skipped_held_threads")}
        out.update(self.extra)
        return out


def _held(exclude_held: bool) -> str:
    return f" AND NOT {held_thread_filter()}" if exclude_held else ""


def preview(cur: Cursor, scope: PurgeScope, *, exclude_held: bool = False) -> tuple[PurgeCounts, list[str]]:
    """What the purge would delete (counts) and the attachment ids whose objects would go."""
    where, args = scope.threads_where()
    held = _held(exclude_held)
    counts = PurgeCounts()
    selected = f"SELECT t.id FROM threads t WHERE {where}{held}"
    row = cur.execute(
        f"SELECT count(*), coalesce(sum(octet_length(t.payload)), 0) FROM threads t WHERE {where}{held}", args
    ).fetchone()
    counts.threads, counts.row_bytes = int(row[0]), int(row[1])  # type: ignore[index]
    row = cur.execute(
        "SELECT count(*), coalesce(sum(octet_length(payload)), 0) FROM items"
        f" WHERE thread_id IN ({selected})",
        args,
    ).fetchone()
    counts.items, counts.row_bytes = int(row[0]), counts.row_bytes + int(row[1])  # type: ignore[index]
    row = cur.execute(f"SELECT count(*) FROM feedback WHERE thread_id IN ({selected})", args).fetchone()
    counts.feedback = int(row[0])  # type: ignore[index]
    if exclude_held:
        row = cur.execute(
            f"SELECT count(*) FROM threads t WHERE {where} AND {held_thread_filter()}", args
        ).fetchone()
        counts.skipped_held_threads = int(row[0])  # type: ignore[index]
    attachment_ids = [
        str(r[0])
        for r in cur.execute(f"SELECT id FROM attachments WHERE thread_id IN ({selected})", args).fetchall()
    ]
    owner = scope.owner_where("a")
    if owner is not None:  # uploads never attached to a message, and leftovers of failed ones
        loose = cur.execute(
            f"SELECT a.id FROM attachments a WHERE a.thread_id IS NULL AND {owner[0]}"
            " UNION SELECT b.attachment_id FROM blob_objects b WHERE " + owner[0].replace("a.", "b."),
            [*owner[1], *owner[1]],
        ).fetchall()
        attachment_ids = sorted({*attachment_ids, *(str(r[0]) for r in loose)})
        usage_where = owner[0].replace("a.", "u.")
        row = cur.execute(f"SELECT count(*) FROM usage u WHERE {usage_where}", owner[1]).fetchone()
        counts.usage_rows = int(row[0])  # type: ignore[index]
    counts.attachments = len(attachment_ids)
    if attachment_ids:
        row = cur.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM blob_objects"
            " WHERE attachment_id = ANY(CAST(? AS VARCHAR[]))",
            [attachment_ids],
        ).fetchone()
        counts.objects, counts.object_bytes = int(row[0]), int(row[1])  # type: ignore[index]
    return counts, attachment_ids


def next_threads(
    cur: Cursor, scope: PurgeScope, limit: int, *, honour_holds: bool = True
) -> list[tuple[str, str, str]]:
    """(thread id, tenant, user) of the next batch to delete: no held thread unless told (a purge
    refuses to start on held subjects; a hold placed while it runs wins, see ``delete_threads``;
    only the re-application of an erasure that already happened passes ``honour_holds=False``)."""
    where, args = scope.threads_where()
    rows = cur.execute(
        f"SELECT t.id, t.tenant, t.user_id FROM threads t WHERE {where}{_held(honour_holds)} LIMIT ?",
        [*args, limit],
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def delete_threads(
    cur: Cursor, *, thread_ids: list[str], scope: PurgeScope, dialect: Dialect, honour_holds: bool = True
) -> tuple[PurgeCounts, list[tuple[str, str, str]]]:
    """Delete threads with everything in them (one transaction); return counts and the
    (attachment id, tenant, user) whose objects must go next.

    Only the threads still in ``scope`` and under no hold now: the batch was chosen on a
    reader, and since then a thread may have been written to (an ``older_than`` scope: an
    active conversation is not old) or put under a hold (which always wins; counted in
    ``skipped_held_threads``). PostgreSQL locks the rows it keeps, so a request's write to one
    waits for this transaction instead of landing in between."""
    if honour_holds:
        lock_holds_sync(cur, dialect)
    where, args = scope.threads_where()
    lock = " FOR UPDATE OF t" if dialect == "postgres" else ""
    in_scope = [
        str(r[0])
        for r in cur.execute(
            f"SELECT t.id FROM threads t WHERE t.id = ANY(CAST(? AS VARCHAR[])) AND {where}{lock}",
            [thread_ids, *args],
        ).fetchall()
    ]
    thread_ids = [
        str(r[0])
        for r in cur.execute(
            f"SELECT t.id FROM threads t WHERE t.id = ANY(CAST(? AS VARCHAR[])){_held(honour_holds)}",
            [in_scope],
        ).fetchall()
    ]
    counts = PurgeCounts(skipped_held_threads=len(in_scope) - len(thread_ids))
    attachments = [
        (str(r[0]), str(r[1]), str(r[2]))
        for r in cur.execute(
            "SELECT id, tenant, user_id FROM attachments WHERE thread_id = ANY(CAST(? AS VARCHAR[]))",
            [thread_ids],
        ).fetchall()
    ]
    counts.items = _deleted(
        cur, "DELETE FROM items WHERE thread_id = ANY(CAST(? AS VARCHAR[]))", [thread_ids]
    )
    counts.feedback = _deleted(
        cur, "DELETE FROM feedback WHERE thread_id = ANY(CAST(? AS VARCHAR[]))", [thread_ids]
    )
    counts.attachments = _deleted(
        cur, "DELETE FROM attachments WHERE thread_id = ANY(CAST(? AS VARCHAR[]))", [thread_ids]
    )
    counts.threads = _deleted(cur, "DELETE FROM threads WHERE id = ANY(CAST(? AS VARCHAR[]))", [thread_ids])
    return counts, attachments


def loose_attachments(cur: Cursor, scope: PurgeScope, limit: int) -> list[tuple[str, str, str]]:
    """Uploads of the subject without a thread, and object rows without a record."""
    owner = scope.owner_where("a")
    if owner is None:
        return []
    rows = cur.execute(
        f"SELECT a.id, a.tenant, a.user_id FROM attachments a WHERE a.thread_id IS NULL AND {owner[0]}"
        " UNION SELECT b.attachment_id, b.tenant, b.user_id FROM blob_objects b WHERE "
        + owner[0].replace("a.", "b.")
        + " LIMIT ?",
        [*owner[1], *owner[1], limit],
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def forget_attachments(cur: Cursor, attachment_ids: list[str]) -> int:
    """Attachment records and bookkeeping rows, once their objects are gone."""
    records = _deleted(cur, "DELETE FROM attachments WHERE id = ANY(CAST(? AS VARCHAR[]))", [attachment_ids])
    _deleted(
        cur,
        "DELETE FROM blob_objects WHERE attachment_id = ANY(CAST(? AS VARCHAR[]))",
        [attachment_ids],
    )
    return records


def object_sizes(cur: Cursor, attachment_ids: list[str]) -> dict[str, tuple[int, bool]]:
    rows = cur.execute(
        "SELECT attachment_id, size, has_preview FROM blob_objects"
        " WHERE attachment_id = ANY(CAST(? AS VARCHAR[]))",
        [attachment_ids],
    ).fetchall()
    return {str(r[0]): (int(r[1]), bool(r[2])) for r in rows}


def delete_usage(cur: Cursor, scope: PurgeScope) -> int:
    owner = scope.owner_where("usage")
    if owner is None:
        return 0
    return _deleted(cur, f"DELETE FROM usage WHERE {owner[0]}", owner[1])


def _deleted(cur: Cursor, sql: str, args: list[Any]) -> int:
    """Run a DELETE and count what it removed (RETURNING: the same in both engines)."""
    return len(cur.execute(f"{sql} RETURNING 1", args).fetchall())


def stray_rows(cur: Cursor, before_month: str, tenant: str | None, limit: int) -> list[tuple[str, str, str]]:
    """Attachments written before ``before_month`` in threads that stay (scope ``before``)."""
    where, args = "a.key_month < ?", [before_month]
    if tenant is not None:
        where += " AND a.tenant = ?"
        args.append(tenant)
    rows = cur.execute(
        f"SELECT a.id, a.tenant, a.user_id FROM attachments a WHERE {where} LIMIT ?", [*args, limit]
    )
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows.fetchall()]


def delete_stray_items(cur: Cursor, *, before_month: str, tenant: str | None) -> int:
    where, args = "key_month < ?", [before_month]
    if tenant is not None:
        where += " AND tenant = ?"
        args.append(tenant)
    return _deleted(cur, f"DELETE FROM items WHERE {where}", args)


def held_threads(cur: Cursor, scope: PurgeScope, limit: int = 50) -> list[str]:
    """Ids of threads in scope that an active hold covers."""

    where, args = scope.threads_where()
    rows = cur.execute(
        f"SELECT t.id FROM threads t WHERE {where} AND {held_thread_filter()} LIMIT ?", [*args, limit]
    )
    return [str(r[0]) for r in rows.fetchall()]


def thread_tenant(cur: Cursor, thread_id: str) -> str | None:
    row = cur.execute("SELECT tenant FROM threads WHERE id = ?", [thread_id]).fetchone()
    return str(row[0]) if row else None


def subject_known(cur: Cursor, scope: PurgeScope) -> bool:
    """Whether anything at all is stored for a user or tenant scope."""
    owner = scope.owner_where("t")
    if owner is None:
        return True
    tables = ("threads", "data_keys", "attachments", "blob_objects", "usage")
    sql = " UNION ALL ".join(f"SELECT 1 FROM {table} t WHERE {owner[0]}" for table in tables)
    return cur.execute(f"{sql} LIMIT 1", owner[1] * len(tables)).fetchone() is not None


def attachment_owners(cur: Cursor, ids: list[str]) -> dict[str, tuple[str, str]]:
    rows = cur.execute(
        "SELECT attachment_id, tenant, user_id FROM blob_objects"
        " WHERE attachment_id = ANY(CAST(? AS VARCHAR[]))"
        " UNION SELECT id, tenant, user_id FROM attachments WHERE id = ANY(CAST(? AS VARCHAR[]))",
        [ids, ids],
    ).fetchall()
    return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}


def tenants_with_data(cur: Cursor) -> list[str]:
    rows = cur.execute("SELECT DISTINCT tenant FROM threads UNION SELECT DISTINCT tenant FROM attachments")
    return sorted(str(r[0]) for r in rows.fetchall())


def _upload_held() -> str:
    """A SQL condition on an ``attachments`` row ``a``: true when an active hold covers it (its
    thread's, or its owner's or tenant's)."""
    return (
        "(EXISTS (SELECT 1 FROM threads t WHERE t.id = a.thread_id AND "
        + held_thread_filter()
        + ") OR EXISTS (SELECT 1 FROM holds h WHERE h.released_at IS NULL AND h.tenant = a.tenant"
        " AND h.thread_id IS NULL AND (h.user_id IS NULL OR h.user_id = a.user_id)))"
    )


def old_uploads(cur: Cursor, tenant: str, cutoff: datetime, limit: int) -> list[tuple[str, str, str]]:
    """Uploads of ``tenant`` created before ``cutoff`` whose thread no active hold covers."""
    rows = cur.execute(
        "SELECT a.id, a.tenant, a.user_id FROM attachments a WHERE a.tenant = ? AND a.created_at < ?"
        f" AND NOT {_upload_held()} LIMIT ?",
        [tenant, cutoff, limit],
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def held_uploads(cur: Cursor, attachment_ids: list[str]) -> set[str]:
    """Which of these uploads an active hold covers now (re-checked before their objects go)."""
    rows = cur.execute(
        f"SELECT a.id FROM attachments a WHERE a.id = ANY(CAST(? AS VARCHAR[])) AND {_upload_held()}",
        [attachment_ids],
    ).fetchall()
    return {str(r[0]) for r in rows}


def count_old_uploads(cur: Cursor, tenant: str, cutoff: datetime) -> int:
    return len(old_uploads(cur, tenant, cutoff, 1_000_000))
