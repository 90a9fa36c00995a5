"""The engine: ledger, intake, guards, executor, reconciler, trades, scheduler."""
