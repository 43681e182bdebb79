"""The service layer: commands per stage over the unit of work, queries, and the side effects they owe."""
