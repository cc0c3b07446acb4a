"""The web shell: the one Starlette application every web page of the space lives in.

In charge of: assembling the ASGI app from the sections its caller gives it (``web.app``), HTTP
security (body limit, sessions from the cookie, CSRF, security headers, French error pages —
``web.security``), cookies, who is logged in (``web.auth``), the login, activation, password and
account pages (``web.login_pages``), the per-address login limit, templating and the base
layout every section's pages extend (``web.templating``, ``templates/base.html``), the shell's
static files, and serving it all with uvicorn (``web.serve``).
Not in charge of: the login rules and stores (``accounts``), nor of any section's pages: the mail
pages are ``webmail``, the record pages ``portal``; the site is composed in ``cli.webapp``. This
package imports neither of them (nor ``mailbox``, ``mta`` or ``records``): sections come in as
:class:`web.app.Section` values.
"""
