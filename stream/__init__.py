"""cursorprint.stream: everything that runs in the streaming service (settings, ingest, agents, stack)."""
