"""agentdeck's Textual dashboard and CLI."""
