"""Protocol buffer messages and generated gRPC stubs (see scripts/gen_protos.py)."""
