"""Webhooks: endpoints, their signing secrets, and the relay that delivers the outbox.

``endpoints``   add / list / remove / rotate / deliveries / retry / send_test (the use-cases)
``secret_box``  new ``whsec_`` secrets, kept encrypted with a key that lives outside the database
``messages``    the body and the Standard Webhooks headers of one delivery
``addresses``   which URLs may be called (http(s) only; no private addresses unless allowed)
``schedule``    when a failed delivery is tried again
``sender``      one HTTP attempt, outside any transaction
``relay``       claims due deliveries, sends them with per-endpoint concurrency, records attempts
"""
