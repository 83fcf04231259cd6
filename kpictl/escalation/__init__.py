"""The escalation lifecycle: what fires now against what the store remembers, what to deliver,
delivering each step exactly once, acknowledgements and the list of open escalations.

lifecycle (the contract's table, pure), memory (the store's tables and claims), run (the
use cases `escalate`, `ack` and `escalations` call). Nothing here prints.
"""
