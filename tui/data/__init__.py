"""The data core: every SQL statement agentdeck issues against DBOS's tables, the filter
language, value decoding and the one row builder.

Standard library only (no DBOS, SQLAlchemy, pydantic or Textual), so ``agentdeck ls`` can use
it over plain ``sqlite3`` / ``psycopg`` connections and pay for nothing else; the dashboard's
data layer (``tui.supervisor``) runs the same statements on the raw connections of its engine.

- ``sql``: how statements are rendered per driver (``{table}`` fields, ``:name`` parameters);
- ``filters``: the ``/`` filter language, compiled to one WHERE clause;
- ``decode``: DBOS's serialized values, with a light unpickler;
- ``rows``: result rows → workflow rows (plain dicts the snapshots validate);
- ``reads``: the list's reads (a page of the list, counts, events, errors, waits);
- ``statements``: the texts of every other statement (a run's payload, steps and streams, the
  change token, the queue and schedule aggregates, a bulk resume's steps);
- ``runs`` and ``queues``: the reads that run them;
- ``summary``: input summaries.
"""
