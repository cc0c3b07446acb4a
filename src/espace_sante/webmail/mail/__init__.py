"""The mail pages (placeholder; the mail-pages branch replaces this package)."""
