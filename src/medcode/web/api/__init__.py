"""JSON API routers, one per feature."""
