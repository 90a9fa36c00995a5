"""Broker adapters: the protocol every broker implements (:mod:`.base`), the error hierarchy
(:mod:`.errors`), status mapping tables (:mod:`.status_table`), the bundled instrument master
(:mod:`.instruments`) and the simulated broker (:mod:`.paper`)."""
