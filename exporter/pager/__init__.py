"""`ocpp-exporter pager`: a small stand-in for a paging system, for the docker compose demo and
for trying the alerts out. It receives Alertmanager's webhooks, logs each page with its
resolution steps and shows the pages on a web page of its own."""
