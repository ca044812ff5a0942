"""Versioned schema migrations, applied in order at start-up.

Each migration runs in its own transaction together with its row in
``schema_migrations``; a database newer than this code is refused.
Routing fields are plain columns; the ChatKit model is one opaque ``payload``.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.database import Cursor, Database

log = get_logger(__name__)

MIGRATIONS: Sequence[tuple[int, str, str]] = (
    (
        1,
        "threads, items, attachments, feedback",
        """
        CREATE TABLE threads (
            id VARCHAR PRIMARY KEY,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            seq BIGINT NOT NULL,
            status VARCHAR NOT NULL,
            payload BLOB NOT NULL
        );
        CREATE INDEX threads_owner ON threads (tenant, user_id);
        CREATE TABLE items (
            thread_id VARCHAR NOT NULL,
            id VARCHAR NOT NULL,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            type VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            seq BIGINT NOT NULL,
            payload BLOB NOT NULL,
            PRIMARY KEY (thread_id, id)
        );
        CREATE INDEX items_thread ON items (thread_id);
        CREATE TABLE attachments (
            id VARCHAR PRIMARY KEY,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            thread_id VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            payload BLOB NOT NULL
        );
        CREATE INDEX attachments_thread ON attachments (thread_id);
        CREATE TABLE feedback (
            thread_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (thread_id, item_id, user_id)
        );
        CREATE TABLE health (id INTEGER PRIMARY KEY, checked_at TIMESTAMPTZ NOT NULL);
        """,
    ),
    (
        2,
        "api keys",
        """
        CREATE TABLE api_keys (
            id VARCHAR PRIMARY KEY,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            secret_sha256 BLOB NOT NULL,
            roles VARCHAR[] NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            created_by VARCHAR NOT NULL,
            revoked_at TIMESTAMPTZ,
            last_used_at TIMESTAMPTZ
        );
        CREATE INDEX api_keys_tenant ON api_keys (tenant);
        """,
    ),
    (
        3,
        "blob objects (upload bookkeeping: quota, orphans, preview owner)",
        """
        CREATE TABLE blob_objects (
            attachment_id VARCHAR PRIMARY KEY,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            state VARCHAR NOT NULL,
            size BIGINT NOT NULL,
            has_preview BOOLEAN NOT NULL,
            key_id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX blob_objects_owner ON blob_objects (tenant, user_id);
        """,
    ),
    (
        4,
        "model token usage",
        """
        CREATE TABLE usage (
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            alias VARCHAR NOT NULL,
            thread_id VARCHAR NOT NULL,
            input_tokens BIGINT NOT NULL,
            output_tokens BIGINT NOT NULL,
            "at" TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX usage_owner ON usage (tenant, user_id, "at");
        """,
    ),
    (
        5,
        "data keys, key columns, jobs, erasure ledger, legal holds, audit chain",
        """
        CREATE TABLE data_keys (
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            month VARCHAR NOT NULL,
            kek_version VARCHAR NOT NULL,
            row_keyset VARCHAR,
            blob_keyset VARCHAR,
            row_primary BIGINT,
            blob_primary BIGINT,
            generation INTEGER NOT NULL,
            state VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            rotated_at TIMESTAMPTZ,
            destroyed_at TIMESTAMPTZ,
            PRIMARY KEY (tenant, user_id, month)
        );
        ALTER TABLE threads ADD COLUMN key_month VARCHAR;
        ALTER TABLE threads ADD COLUMN key_id BIGINT;
        ALTER TABLE items ADD COLUMN key_month VARCHAR;
        ALTER TABLE items ADD COLUMN key_id BIGINT;
        ALTER TABLE attachments ADD COLUMN key_month VARCHAR;
        ALTER TABLE attachments ADD COLUMN key_id BIGINT;
        CREATE TABLE server_secrets (
            name VARCHAR PRIMARY KEY,
            kek_version VARCHAR NOT NULL,
            wrapped VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE jobs (
            id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,
            params VARCHAR NOT NULL,
            state VARCHAR NOT NULL,
            done BIGINT NOT NULL,
            total BIGINT,
            "cursor" VARCHAR,
            result VARCHAR,
            last_error VARCHAR,
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            started_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            lease_owner VARCHAR,
            lease_until TIMESTAMPTZ,
            cancel_requested BOOLEAN NOT NULL
        );
        CREATE TABLE erasure_ledger (
            id VARCHAR PRIMARY KEY,
            scope VARCHAR NOT NULL,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR,
            before_month VARCHAR,
            erased_at TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL
        );
        CREATE TABLE holds (
            id VARCHAR PRIMARY KEY,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR,
            thread_id VARCHAR,
            case_ref VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            created_by VARCHAR NOT NULL,
            released_at TIMESTAMPTZ,
            released_by VARCHAR
        );
        CREATE TABLE audit_log (
            seq BIGINT PRIMARY KEY,
            "at" TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL,
            auth_method VARCHAR NOT NULL,
            verb VARCHAR NOT NULL,
            tenant VARCHAR,
            user_id VARCHAR,
            params VARCHAR NOT NULL,
            outcome VARCHAR NOT NULL,
            counts VARCHAR NOT NULL,
            prev_hash VARCHAR NOT NULL,
            hash VARCHAR NOT NULL
        );
        """,
    ),
)


#: PostgreSQL starts at the schema DuckDB reached by migration 5, in one step; later
#: migrations are written for both engines and appended to both lists. Beyond DuckDB's
#: schema: foreign keys (items, feedback and attachments cannot outlive their thread when
#: another process deletes it) and the shared sequence for ``seq``.
POSTGRES_MIGRATIONS: Sequence[tuple[int, str, str]] = (
    (
        5,
        "PostgreSQL schema (threads ... audit chain), as DuckDB's migrations 1-5",
        """
        CREATE SEQUENCE chatkit_seq INCREMENT BY 100;
        CREATE TABLE threads (
            id VARCHAR PRIMARY KEY,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            seq BIGINT NOT NULL,
            status VARCHAR NOT NULL,
            payload BYTEA NOT NULL,
            key_month VARCHAR,
            key_id BIGINT
        );
        CREATE INDEX threads_owner ON threads (tenant, user_id, created_at, seq);
        CREATE INDEX threads_updated ON threads (updated_at);
        CREATE TABLE items (
            thread_id VARCHAR NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            id VARCHAR NOT NULL,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            type VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            seq BIGINT NOT NULL,
            payload BYTEA NOT NULL,
            key_month VARCHAR,
            key_id BIGINT,
            PRIMARY KEY (thread_id, id)
        );
        CREATE INDEX items_page ON items (thread_id, created_at, seq);
        CREATE INDEX items_owner ON items (tenant, user_id);
        CREATE TABLE attachments (
            id VARCHAR PRIMARY KEY,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            thread_id VARCHAR REFERENCES threads (id) ON DELETE CASCADE,
            created_at TIMESTAMPTZ NOT NULL,
            payload BYTEA NOT NULL,
            key_month VARCHAR,
            key_id BIGINT
        );
        CREATE INDEX attachments_thread ON attachments (thread_id);
        CREATE INDEX attachments_owner ON attachments (tenant, user_id);
        CREATE TABLE feedback (
            thread_id VARCHAR NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            item_id VARCHAR NOT NULL,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (thread_id, item_id, user_id)
        );
        CREATE TABLE health (id INTEGER PRIMARY KEY, checked_at TIMESTAMPTZ NOT NULL);
        CREATE TABLE api_keys (
            id VARCHAR PRIMARY KEY,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            secret_sha256 BYTEA NOT NULL,
            roles VARCHAR[] NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            created_by VARCHAR NOT NULL,
            revoked_at TIMESTAMPTZ,
            last_used_at TIMESTAMPTZ
        );
        CREATE INDEX api_keys_tenant ON api_keys (tenant);
        CREATE TABLE blob_objects (
            attachment_id VARCHAR PRIMARY KEY,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            state VARCHAR NOT NULL,
            size BIGINT NOT NULL,
            has_preview BOOLEAN NOT NULL,
            key_id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX blob_objects_owner ON blob_objects (tenant, user_id);
        CREATE TABLE usage (
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            alias VARCHAR NOT NULL,
            thread_id VARCHAR NOT NULL,
            input_tokens BIGINT NOT NULL,
            output_tokens BIGINT NOT NULL,
            "at" TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX usage_owner ON usage (tenant, user_id, "at");
        CREATE TABLE data_keys (
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            month VARCHAR NOT NULL,
            kek_version VARCHAR NOT NULL,
            row_keyset VARCHAR,
            blob_keyset VARCHAR,
            row_primary BIGINT,
            blob_primary BIGINT,
            generation INTEGER NOT NULL,
            state VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            rotated_at TIMESTAMPTZ,
            destroyed_at TIMESTAMPTZ,
            PRIMARY KEY (tenant, user_id, month)
        );
        CREATE TABLE server_secrets (
            name VARCHAR PRIMARY KEY,
            kek_version VARCHAR NOT NULL,
            wrapped VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE jobs (
            id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,
            params VARCHAR NOT NULL,
            state VARCHAR NOT NULL,
            done BIGINT NOT NULL,
            total BIGINT,
            "cursor" VARCHAR,
            result VARCHAR,
            last_error VARCHAR,
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            started_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            lease_owner VARCHAR,
            lease_until TIMESTAMPTZ,
            cancel_requested BOOLEAN NOT NULL
        );
        CREATE INDEX jobs_active ON jobs (state, created_at);
        CREATE TABLE erasure_ledger (
            id VARCHAR PRIMARY KEY,
            scope VARCHAR NOT NULL,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR,
            before_month VARCHAR,
            erased_at TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL
        );
        CREATE TABLE holds (
            id VARCHAR PRIMARY KEY,
            tenant VARCHAR NOT NULL,
            user_id VARCHAR,
            thread_id VARCHAR,
            case_ref VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            created_by VARCHAR NOT NULL,
            released_at TIMESTAMPTZ,
            released_by VARCHAR
        );
        CREATE TABLE audit_log (
            seq BIGINT PRIMARY KEY,
            "at" TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL,
            auth_method VARCHAR NOT NULL,
            verb VARCHAR NOT NULL,
            tenant VARCHAR,
            user_id VARCHAR,
            params VARCHAR NOT NULL,
            outcome VARCHAR NOT NULL,
            counts VARCHAR NOT NULL,
            prev_hash VARCHAR NOT NULL,
            hash VARCHAR NOT NULL
        );
        CREATE TABLE rate_buckets (
            key VARCHAR PRIMARY KEY,
            tokens DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE thread_leases (
            tenant VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            thread_id VARCHAR NOT NULL,
            owner VARCHAR NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (tenant, user_id, thread_id)
        );
        """,
    ),
)


class SchemaTooNewError(RuntimeError):
    pass


def migrations_for(db: Database) -> Sequence[tuple[int, str, str]]:
    return POSTGRES_MIGRATIONS if db.dialect == "postgres" else MIGRATIONS


def apply_migrations(db: Database) -> int:
    """Bring the schema up to date; return the version now in force.

    On PostgreSQL several workers start at once: the whole check-and-apply runs in one
    transaction under an advisory lock, so exactly one of them migrates."""
    migrations = migrations_for(db)
    latest = migrations[-1][0]

    def migrate(cursor: Cursor) -> tuple[int, list[tuple[int, str]]]:
        if db.dialect == "postgres":
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('chatkit-onprem migrations'))")
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
        row = cursor.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        version = int(row[0]) if row else 0
        if version > latest:
            raise SchemaTooNewError(
                f"database schema version {version} is newer than this build knows ({latest}); "
                "run the newer chatkit-onprem release"
            )
        applied: list[tuple[int, str]] = []
        for number, name, sql in migrations:
            if number <= version:
                continue
            cursor.execute(sql)
            cursor.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, name])
            applied.append((number, name))
            version = number
        return version, applied

    version, applied = db.write_sync(migrate)
    for number, name in applied:
        log.info("schema migrated", version=number, migration=name)
    return version
