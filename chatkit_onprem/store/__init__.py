"""DuckDB persistence: the file's owner, migrations, and the ChatKit Store."""

from chatkit_onprem.store.chatkit_store import DuckDBStore
from chatkit_onprem.store.database import Database, DatabaseLockedError
from chatkit_onprem.store.migrations import apply_migrations

__all__ = ["Database", "DatabaseLockedError", "DuckDBStore", "apply_migrations"]
