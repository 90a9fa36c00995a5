"""Import of the seed-era ``pending_orders.json`` and ``trades_history.json`` (BRIEF §4.1).

``parsing`` turns the two JSON formats into typed ``records`` (with a reason for every row it
cannot use), ``plan`` turns one record into an order and the event path that brings it to its
legacy status, ``importer`` writes them through the ledger in batches, idempotently, and
``report`` says what happened to every input row.
"""
