"""Encryption at rest: the key hierarchy (KEK -> data keys per tenant, user and month).

``kek`` (key-encryption keys: keyring or Vault transit), ``deks`` (data keys, cached),
``envelope`` (row payloads), ``blobs`` (uploads and previews, streaming), ``primitives``
(Tink as we use it), ``server_secrets``; ``legacy_*`` read what releases before the
hierarchy wrote, until the migration job has re-encrypted it.
"""
