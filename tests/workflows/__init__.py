"""The durable workflows on a real embedded DBOS (SQLite, and PostgreSQL where parametrized):
research, the catalogue, guards, notifications, tool approvals, crashes, every-run reads, export."""
