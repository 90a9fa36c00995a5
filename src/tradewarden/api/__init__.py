"""HTTP API: OpenAlgo-compatible routes, the native API, webhooks, health and metrics."""
