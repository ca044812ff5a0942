"""``/admin/v1``: the API the admin CLI talks to (the CLI never opens the database itself).

Every controller is guarded (``guards``): the admin token or an admin/auditor caller may
read, only the admin token or an admin may change anything; every change is recorded in
the audit chain (``audited``). Bodies are small JSON, capped.
"""

from __future__ import annotations

from litestar import Controller

from chatkit_onprem.http.admin.api_keys import ApiKeyController
from chatkit_onprem.http.admin.jobs import JobsController
from chatkit_onprem.http.admin.keys import KeysController
from chatkit_onprem.http.admin.residency import ResidencyController


def admin_controllers() -> list[type[Controller]]:
    return [ApiKeyController, KeysController, JobsController, ResidencyController]
