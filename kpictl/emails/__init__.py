"""Emails kpictl writes: escalations, data outages, campaign kickoffs, readouts and recaps.

`people` resolves recipients, `context` builds what templates see, `compose` turns
rendered text into RFC 5322 messages and `build` ties them together. `outbox` holds
the use cases behind `status` and the email commands; `smtp` delivers, and `sentlog`
remembers what the server accepted.
"""
