"""The ASGI web front: the patient webmail and the record portal."""
