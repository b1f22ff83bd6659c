"""The whole country's administrative divisions, read from pinned packages (not typed by hand)."""
