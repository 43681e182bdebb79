"""The outflow case, pure: stages, the table of allowed moves, events, the ZRM. No Prefect, SQL or HTTP here."""
