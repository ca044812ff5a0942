"""HTTP edge: controllers, middleware and error handlers (Litestar)."""
