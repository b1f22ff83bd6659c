"""The application layer: the use cases both gateways share.

HTTP (`gateways/http`) and Kafka inbound commands (`gateways/kafka/inbound.py`) are thin
adapters over it: they authenticate, parse, and hand a `CommandRequest` to `Commands`;
what runs, what is stored and what is answered is decided here, and knows nothing of
HTTP or Kafka. Every append goes through the process's one `GroupCommitWriter`.
"""
