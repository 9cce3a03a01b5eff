"""Behaviour that needs the PostgreSQL server itself: workers killed and taken over, outages,
stream notifications, the SQL module's plans."""
