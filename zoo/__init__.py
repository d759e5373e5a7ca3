"""zoo: what users touch (reference networks, importers, preprocessing, pipelines, catalog)."""
