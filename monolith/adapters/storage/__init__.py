"""File-system adapters: local disk, in-memory and HDFS over WebHDFS."""
