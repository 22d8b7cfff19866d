"""The page model (docs_pages.py) and what is generated from pages: snippets, notebooks, stored diagrams and figures, the glossary pages."""
