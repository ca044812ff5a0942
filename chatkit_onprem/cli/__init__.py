"""The ``chatkit-onprem`` command line."""
