"""HTTP: the FastAPI app, problem+json errors, and (later) the pages."""
