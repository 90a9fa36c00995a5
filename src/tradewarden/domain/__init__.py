"""Pure domain model: orders, statuses, transitions, events, instruments, money. No I/O."""
