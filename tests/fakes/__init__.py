"""Local stand-ins for external services, so tests run the real client code offline."""
