"""The data core: every SQL statement agentdeck issues against DBOS's tables, the filter
language, value decoding and the one row builder.

Standard library only (no DBOS, SQLAlchemy, pydantic or Textual), so ``agentdeck ls`` can use
it over plain ``sqlite3`` / ``psycopg`` connections and pay for nothing else; the dashboard's
data layer (``tui.supervisor``) runs the same statements on the raw connections of its engine.

- ``sql``: the statements, with named parameters, rendered per driver;
- ``filters``: the ``/`` filter language, compiled to one WHERE clause;
- ``decode``: DBOS's serialized values, with a light unpickler;
- ``rows``: result rows → workflow rows (plain dicts the snapshots validate);
- ``reads``: the reads themselves (a page of the list, counts, events, errors, waits).
"""
