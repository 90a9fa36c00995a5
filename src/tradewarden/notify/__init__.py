"""Notifications (BRIEF §7): ledger, trade and system events → a persisted outbox → apprise
channels, with per-user preferences, quiet hours, flood control and retries.

Entry points: ``notify.outbox.enqueue`` / ``alert`` for other engines, ``notify.service.Notifier``
for the running process. See ``docs/notifications.md``.
"""
