"""gRPC serving adapters: the Prediction server, its client and metrics."""
