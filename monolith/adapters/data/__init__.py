"""Data-format adapters over the storage port: TFRecord framing and Examples."""
