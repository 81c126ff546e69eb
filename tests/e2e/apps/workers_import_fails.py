"""Worker-pool test app: raises while being imported."""

raise ImportError("workers_import_fails: a broken module")
