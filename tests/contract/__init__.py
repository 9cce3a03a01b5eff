"""Contracts with what is outside the package: the real Claude Code CLI and the offline server,
the browser mode, ``agentdeck ls`` without DBOS, import hygiene, quitting with CLIs in flight."""
