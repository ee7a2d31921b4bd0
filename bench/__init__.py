"""`make bench`: throughput, latency and growth figures measured side by side (docs/PERFORMANCE.md)."""
