"""Rate limits and circuit breakers of forwarded calls (docs/design/0016)."""
