"""The web layer: FastAPI routers over the core functions (JSON API now; HTML pages later)."""
