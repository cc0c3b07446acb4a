"""The ASGI web front: login pages, web sessions and the page shell of the patient webmail.

In charge of: HTTP (Starlette), the French pages (Jinja2, autoescaped), cookies, CSRF, the security
headers and error pages, and wiring the mail pages (``webmail.mail``) behind the login.
Not in charge of: the login rules and stores (``accounts``), the mail itself (read through our IMAP
server and sent through our submission server, never from the store directly).
"""
