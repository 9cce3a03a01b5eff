"""Test support: seeding big databases, fixtures shared by several test files."""
