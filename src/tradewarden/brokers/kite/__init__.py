"""Zerodha Kite Connect v3: the adapter (:mod:`.adapter`), its one table of Kite's strings
(:mod:`.table`), account options and login (:mod:`.options`), JSON mapping (:mod:`.wire`),
the websocket's message codec (:mod:`.ticker`) and connection (:mod:`.socket`)."""
