"""The scale-out deployment (issue 15, DESIGN.md's third): stateless receivers that
screen and verify uploads and publish them to a NATS JetStream stream partitioned by
station; workers that own partitions under leases and feed each partition's records,
in stream order, to the same pure engine, storing ledger rows, outputs and the stream
position in one PostgreSQL transaction. See docs/scale-out.md."""
