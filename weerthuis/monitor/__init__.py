"""The Transferpunt monitor: in-, through- and outflow, lead times, contingents and tenancies, per region and period.

`figures` computes, `charts` draws, `report` writes the HTML report and the CSV export; `flows/monitor.py` runs it
weekly in Prefect and `python -m weerthuis.monitor` on the command line. Everything it shows is pseudonymous.
"""
