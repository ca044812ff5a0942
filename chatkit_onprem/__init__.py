"""chatkit-onprem: a self-hosted, air-gapped ChatKit backend."""

__version__ = "0.1.0"
