"""Dunning letters as PDFs (Jinja2 + WeasyPrint), and their delivery by e-mail."""
