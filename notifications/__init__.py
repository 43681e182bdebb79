"""Mail: Dutch templates per event (pure rendering), the outbox, SMTP delivery, and a local sink for the demo."""
