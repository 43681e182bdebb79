"""`weerthuis server`: the Prefect server wrapped by Weer Thuis (Dutch refusals now; identity in issue 15)."""
