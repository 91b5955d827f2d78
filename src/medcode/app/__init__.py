"""Application state (accounts, sessions, API keys, usage) in SQLite or PostgreSQL, apart from the knowledge
base. Import the modules themselves (``from medcode.app import accounts, db``): this package imports nothing
on its own, so that a command that needs no database does not load SQLAlchemy."""
