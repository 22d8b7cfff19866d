"""MkDocs hooks, one concern per file, listed in mkdocs.yml `hooks:`. They read the page model and stored results; they execute no page code."""
